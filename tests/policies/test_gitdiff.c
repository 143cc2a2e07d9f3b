/* policies/gitdiff.c: mirrors fetched from real repositories (plain paths and file:// URLs,
 * a pull-request ref on a commit no branch holds, broken mirrors, the size and time caps),
 * merge-base diffs with renames, binary and big files, and git pathspecs with "**".
 * Repositories are made with the git command line in temp dirs. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "policies/inspect.h"
#include "policies/policies.h"
#include "tests/support/support.h"

/* Runs a shell command built from fmt and asserts that it succeeds. */
/* `git -C dir ARGS` (identity and config come from git_env). */
static void git(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void git(const char *dir, const char *fmt, ...)
{
    char args[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    ts_sh("git -C '%s' %s", dir, args);
}

/* The output of a command, trimmed; malloc'd. */
static char *capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *capture(const char *fmt, ...)
{
    char cmd[4096], buf[256] = {0};
    va_list ap;
    FILE *p;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(buf, 1, sizeof(buf) - 1, p);
    ck_assert_int_eq(pclose(p), 0);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return strdup(buf);
}

static void git_env(void)
{
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    setenv("GIT_AUTHOR_NAME", "zoneci test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@zoneci.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "zoneci test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@zoneci.invalid", 1);
}

/* Writes len bytes to dir/rel, making the folders on the way. */
static void put(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s", path);
            *p = '/';
        }
    }
    f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "open %s", path);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put_text(const char *dir, const char *rel, const char *text)
{
    put(dir, rel, text, strlen(text));
}

/* Incompressible bytes, so that a fetch really moves them. */
static void put_random(const char *dir, const char *rel, size_t len)
{
    unsigned char *b = malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (unsigned char)x;
    }
    put(dir, rel, b, len);
    free(b);
}

static char *new_repo(const char *root, const char *name)
{
    char *dir = malloc(strlen(root) + strlen(name) + 2);

    sprintf(dir, "%s/%s", root, name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    git(dir, "init -q -b main");
    return dir;
}

static const policy_diff_file *find_file(const policy_diff *d, const char *path)
{
    for (size_t i = 0; i < d->n_files; i++) {
        if (strcmp(d->files[i].path, path) == 0)
            return &d->files[i];
    }
    return NULL;
}

/* ---- a shared origin: main with a late change, a feature branch, a PR ref ------------------ */

typedef struct origin {
    char *root;
    char *dir;
    char *feature_sha;
    char *pr_sha; /* on refs/pull/7/head only */
} origin;

static void origin_make(origin *o)
{
    git_env();
    o->root = ts_tmpdir();
    o->dir = new_repo(o->root, "origin");
    put_text(o->dir, "db/migrations/V1__init.sql", "CREATE TABLE users (id bigint);\n");
    put_text(o->dir, "db/migrations/V2__old_name.sql", "CREATE TABLE a (id bigint);\n");
    put_text(o->dir, "app/keep.txt", "keep\n");
    put_text(o->dir, "app/gone.txt", "gone\n");
    put_text(o->dir, "db/edit.sql", "SELECT 1;\n");
    git(o->dir, "add -A");
    git(o->dir, "commit -q -m base");
    git(o->dir, "checkout -q -b feature");
    put_text(o->dir, "db/migrations/V3__drop.sql", "-- drop it\nDROP TABLE users;\n");
    git(o->dir, "mv db/migrations/V2__old_name.sql db/migrations/V2__new_name.sql");
    put_text(o->dir, "db/edit.sql", "SELECT 1;\nSELECT 2;\n");
    git(o->dir, "rm -q app/gone.txt");
    put(o->dir, "assets/logo.bin", "PNG\0\1\2\3binary", 14);
    git(o->dir, "add -A");
    git(o->dir, "commit -q -m feature");
    o->feature_sha = capture("git -C '%s' rev-parse HEAD", o->dir);
    /* A change on main after the branch point: it must not show in the PR's diff. */
    git(o->dir, "checkout -q main");
    put_text(o->dir, "db/migrations/V9__late_on_main.sql", "DROP TABLE late;\n");
    put_text(o->dir, "app/keep.txt", "changed on main later\n");
    git(o->dir, "add -A");
    git(o->dir, "commit -q -m late");
    /* A pull request from a fork: its head is on refs/pull/7/head and on no branch. */
    git(o->dir, "checkout -q -b fork feature");
    put_text(o->dir, "db/migrations/V4__fork.sql", "TRUNCATE users;\n");
    git(o->dir, "add -A");
    git(o->dir, "commit -q -m fork");
    o->pr_sha = capture("git -C '%s' rev-parse HEAD", o->dir);
    git(o->dir, "update-ref refs/pull/7/head %s", o->pr_sha);
    git(o->dir, "checkout -q main");
    git(o->dir, "branch -q -D fork");
}

static void origin_free(origin *o)
{
    ts_rmtree(o->root);
    free(o->root);
    free(o->dir);
    free(o->feature_sha);
    free(o->pr_sha);
}

static char *cache_in(const origin *o)
{
    char *c = malloc(strlen(o->root) + 16);

    sprintf(c, "%s/cache", o->root);
    return c;
}

/* ---- mirror paths ------------------------------------------------------------------------ */

START_TEST(mirror_path_is_stable_and_safe)
{
    char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    core_error err = {0};

    ck_assert_int_eq(policy_mirror_path("/cache", "https://github.com/acme/payments.git", &a, &err),
                     0);
    ck_assert_int_eq(
        policy_mirror_path("/cache", "https://x:SECRET@github.com/acme/payments.git", &b, &err), 0);
    ck_assert_int_eq(policy_mirror_path("/cache", "https://github.com/other/payments", &c, &err),
                     0);
    ck_assert_int_eq(policy_mirror_path("/cache", "/srv/../../etc/passwd", &d, &err), 0);
    ck_assert_msg(strncmp(a, "/cache/payments-", 16) == 0, "%s", a);
    ck_assert_int_eq(strlen(a), strlen("/cache/payments-") + 16 + 4);
    ck_assert_str_eq(a + strlen(a) - 4, ".git");
    ck_assert_str_eq(a, b); /* credentials do not make another mirror */
    ck_assert_ptr_null(strstr(b, "SECRET"));
    ck_assert_str_ne(a, c); /* same last part, other repository */
    ck_assert_msg(strncmp(d, "/cache/passwd-", 14) == 0, "%s", d);
    ck_assert_ptr_null(strstr(d + 7, "/"));
    free(d);
    ck_assert_int_eq(policy_mirror_path("/cache", "", &d, &err), CORE_EINVAL);
    ck_assert_ptr_null(d);
    free(a);
    free(b);
    free(c);
}
END_TEST

/* ---- fetching ---------------------------------------------------------------------------- */

static void assert_pr_diff(const char *mirror, const char *head)
{
    policy_diff *d = NULL;
    core_error err = {0};

    ck_assert_msg(policy_diff_compute(mirror, "main", head, NULL, &d, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(find_file(d, "db/migrations/V3__drop.sql"));
    ck_assert_ptr_null(find_file(d, "db/migrations/V9__late_on_main.sql"));
    policy_diff_free(d);
}

START_TEST(fetch_plain_path_then_incremental)
{
    origin o = {0};
    char *cache, *mirror = NULL, *again = NULL, *sha;
    core_error err = {0};

    struct stat st;

    origin_make(&o);
    /* A cache folder that does not exist yet is made, private. */
    cache = malloc(strlen(o.root) + 32);
    sprintf(cache, "%s/var/cache/zoneci", o.root);
    ck_assert_msg(policy_mirror_fetch(cache, o.dir, NULL, o.feature_sha, 0, NULL, &mirror, &err) ==
                      0,
                  "%s", err.msg);
    ck_assert_msg(strncmp(mirror, cache, strlen(cache)) == 0, "%s", mirror);
    ck_assert_int_eq(stat(cache, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    assert_pr_diff(mirror, o.feature_sha);
    assert_pr_diff(mirror, "feature");
    /* A new commit on the branch arrives with the next fetch into the same mirror. */
    git(o.dir, "checkout -q feature");
    put_text(o.dir, "db/migrations/V5__more.sql", "DELETE FROM users;\n");
    git(o.dir, "add -A");
    git(o.dir, "commit -q -m more");
    sha = capture("git -C '%s' rev-parse HEAD", o.dir);
    ck_assert_msg(policy_mirror_fetch(cache, o.dir, NULL, sha, 0, NULL, &again, &err) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(mirror, again);
    assert_pr_diff(again, sha);
    free(sha);
    free(again);
    free(mirror);
    free(cache);
    origin_free(&o);
}
END_TEST

START_TEST(fetch_file_url_and_pull_ref)
{
    origin o = {0};
    char *cache, *url, *mirror = NULL;
    core_error err = {0};
    policy_diff *d = NULL;

    origin_make(&o);
    cache = cache_in(&o);
    url = malloc(strlen(o.dir) + 8);
    sprintf(url, "file://%s", o.dir);
    /* Without the PR number there is no refs/pull/7/head in the mirror. (libgit2's local
     * transport sends the objects of every remote ref, so the commit itself may come along;
     * over HTTPS it would not.) */
    ck_assert_msg(policy_mirror_fetch(cache, url, NULL, NULL, 0, NULL, &mirror, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(policy_diff_compute(mirror, "main", "refs/pull/7/head", NULL, &d, &err),
                     CORE_ENOTFOUND);
    free(mirror);
    mirror = NULL;
    ck_assert_msg(policy_mirror_fetch(cache, url, NULL, o.pr_sha, 7, NULL, &mirror, &err) == 0,
                  "%s", err.msg);
    assert_pr_diff(mirror, o.pr_sha);
    ck_assert_int_eq(policy_diff_compute(mirror, "main", "refs/pull/7/head", NULL, &d, &err), 0);
    ck_assert_ptr_nonnull(find_file(d, "db/migrations/V4__fork.sql"));
    ck_assert_str_eq(d->head, o.pr_sha);
    policy_diff_free(d);
    free(mirror);
    mirror = NULL;
    /* A commit that exists nowhere, and a malformed one. */
    ck_assert_int_eq(policy_mirror_fetch(cache, url, NULL,
                                         "0123456789abcdef0123456789abcdef01234567", 7, NULL,
                                         &mirror, &err),
                     CORE_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "not found") != NULL, "%s", err.msg);
    ck_assert_int_eq(policy_mirror_fetch(cache, url, NULL, "abc", 7, NULL, &mirror, &err),
                     CORE_EINVAL);
    ck_assert_ptr_null(mirror);
    free(url);
    free(cache);
    origin_free(&o);
}
END_TEST

START_TEST(fetch_missing_remote)
{
    char *root = ts_tmpdir(), *mirror = NULL, cache[600], remote[600];
    core_error err = {0};
    int rc;

    snprintf(cache, sizeof(cache), "%s/cache", root);
    snprintf(remote, sizeof(remote), "%s/nothing-here", root);
    rc = policy_mirror_fetch(cache, remote, NULL, NULL, 0, NULL, &mirror, &err);
    ck_assert_msg(rc == CORE_ENOTFOUND, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(mirror);
    snprintf(remote, sizeof(remote), "file://%s/nothing-here", root);
    rc = policy_mirror_fetch(cache, remote, NULL, NULL, 0, NULL, &mirror, &err);
    ck_assert_msg(rc == CORE_ENOTFOUND, "rc %d: %s", rc, err.msg);
    /* A directory that is not a repository. */
    snprintf(remote, sizeof(remote), "%s", root);
    rc = policy_mirror_fetch(cache, remote, NULL, NULL, 0, NULL, &mirror, &err);
    ck_assert_msg(rc < 0, "rc %d", rc);
    ck_assert_ptr_null(mirror);
    ts_rmtree(root);
    free(root);
}
END_TEST

START_TEST(fetch_https_unreachable_hides_token)
{
    char *root = ts_tmpdir(), *mirror = NULL, cache[600], url[64];
    core_error err = {0};
    int rc;

    snprintf(cache, sizeof(cache), "%s/cache", root);
    snprintf(url, sizeof(url), "https://u:PASSWORD@127.0.0.1:%d/acme/x.git", ts_free_port());
    rc = policy_mirror_fetch(cache, url, "TOKEN-SECRET", NULL, 0, NULL, &mirror, &err);
    ck_assert_msg(rc == CORE_EUNAVAILABLE, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(strstr(err.msg, "TOKEN-SECRET"));
    ck_assert_ptr_null(strstr(err.msg, "PASSWORD"));
    ts_rmtree(root);
    free(root);
}
END_TEST

/* Deletes every object of a mirror but keeps its refs: it opens, yet lies. */
static void gut_objects(const char *mirror)
{
    ts_sh("find '%s/objects' -type f -delete", mirror);
}

START_TEST(broken_mirrors_are_recloned)
{
    origin o = {0};
    char *cache, *mirror = NULL, *again = NULL;
    core_error err = {0};

    origin_make(&o);
    cache = cache_in(&o);
    /* Not a repository at all: a stray file where the mirror should be. */
    ck_assert_int_eq(policy_mirror_path(cache, o.dir, &mirror, &err), 0);
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    ck_assert_int_eq(mkdir(mirror, 0700), 0);
    put_text(mirror, "HEAD", "garbage\n");
    free(mirror);
    mirror = NULL;
    ck_assert_msg(policy_mirror_fetch(cache, o.dir, NULL, o.feature_sha, 0, NULL, &mirror, &err) ==
                      0,
                  "%s", err.msg);
    assert_pr_diff(mirror, o.feature_sha);
    /* Refs pointing at objects that are gone. */
    gut_objects(mirror);
    ck_assert_msg(policy_mirror_fetch(cache, o.dir, NULL, o.feature_sha, 0, NULL, &again, &err) ==
                      0,
                  "%s", err.msg);
    ck_assert_str_eq(mirror, again);
    assert_pr_diff(again, o.feature_sha);
    free(again);
    free(mirror);
    free(cache);
    origin_free(&o);
}
END_TEST

START_TEST(fetch_caps_size_and_time)
{
    origin o = {0};
    char *cache, *mirror = NULL;
    core_error err = {0};
    policy_fetch_limits small = {.max_bytes = 64 * 1024};
    policy_fetch_limits quick = {.timeout_ms = 1};
    int rc;

    origin_make(&o);
    git(o.dir, "checkout -q feature");
    put_random(o.dir, "vendor/blob.bin", 4 * 1024 * 1024);
    git(o.dir, "add -A");
    git(o.dir, "commit -q -m big");
    cache = cache_in(&o);
    rc = policy_mirror_fetch(cache, o.dir, NULL, NULL, 0, &small, &mirror, &err);
    ck_assert_msg(rc == CORE_ETOOBIG, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(mirror);
    /* 4 MiB of incompressible data take far longer than 1 ms to pack and index. */
    rc = policy_mirror_fetch(cache, o.dir, NULL, NULL, 0, &quick, &mirror, &err);
    ck_assert_msg(rc == CORE_EAGAIN, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(mirror);
    /* A draining process cancels a fetch in flight: it stops at the next callback. */
    {
        atomic_int stop = 1;
        policy_fetch_limits cancelled = {.cancel = &stop};

        rc = policy_mirror_fetch(cache, o.dir, NULL, NULL, 0, &cancelled, &mirror, &err);
        ck_assert_msg(rc == CORE_EAGAIN, "rc %d: %s", rc, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "cancelled"));
        ck_assert_ptr_null(mirror);
    }
    /* The aborted fetches left a mirror that still works. */
    rc = policy_mirror_fetch(cache, o.dir, NULL, NULL, 0, NULL, &mirror, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err.msg);
    free(mirror);
    free(cache);
    origin_free(&o);
}
END_TEST

/* ---- diffs ------------------------------------------------------------------------------- */

START_TEST(diff_merge_base_renames_binary)
{
    origin o = {0};
    policy_diff *d = NULL;
    const policy_diff_file *f;
    core_error err = {0};

    origin_make(&o);
    /* A working repository (not bare) works too, and its work tree is not looked at. */
    put_text(o.dir, "db/migrations/V8__uncommitted.sql", "DROP TABLE x;\n");
    ck_assert_msg(policy_diff_compute(o.dir, "main", "feature", NULL, &d, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(strlen(d->merge_base), 40);
    ck_assert_str_eq(d->head, o.feature_sha);
    ck_assert_ptr_null(find_file(d, "db/migrations/V9__late_on_main.sql"));
    ck_assert_ptr_null(find_file(d, "db/migrations/V8__uncommitted.sql"));
    ck_assert_ptr_null(find_file(d, "app/gone.txt")); /* deleted: not listed */
    ck_assert_ptr_null(find_file(d, "app/keep.txt"));
    ck_assert_uint_eq(d->n_files, 4);
    f = find_file(d, "db/migrations/V3__drop.sql");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->change, POLICY_CHANGE_ADDED);
    ck_assert_int_eq(f->kind, POLICY_CONTENT_TEXT);
    ck_assert_str_eq(f->content, "-- drop it\nDROP TABLE users;\n");
    ck_assert_uint_eq(f->content_len, strlen(f->content));
    f = find_file(d, "db/migrations/V2__new_name.sql");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->change, POLICY_CHANGE_RENAMED);
    ck_assert_str_eq(f->old_path, "db/migrations/V2__old_name.sql");
    ck_assert_ptr_nonnull(f->content);
    f = find_file(d, "db/edit.sql");
    ck_assert_int_eq(f->change, POLICY_CHANGE_MODIFIED);
    ck_assert_ptr_null(f->old_path);
    f = find_file(d, "assets/logo.bin");
    ck_assert_int_eq(f->kind, POLICY_CONTENT_BINARY);
    ck_assert_ptr_null(f->content);
    ck_assert_uint_eq(f->size, 14);
    /* Sorted by path. */
    for (size_t i = 1; i < d->n_files; i++)
        ck_assert_int_lt(strcmp(d->files[i - 1].path, d->files[i].path), 0);
    policy_diff_free(d);
    origin_free(&o);
}
END_TEST

START_TEST(diff_caps)
{
    char *root, *dir;
    policy_diff *d = NULL;
    policy_diff_limits lim = {.max_file_bytes = 1000};
    core_error err = {0};
    char big[2000];
    const policy_diff_file *f;

    git_env();
    root = ts_tmpdir();
    dir = new_repo(root, "r");
    put_text(dir, "README", "x\n");
    git(dir, "add -A");
    git(dir, "commit -q -m base");
    git(dir, "checkout -q -b pr");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_text(dir, "db/big.sql", big);
    put_text(dir, "db/a.sql", "SELECT 1;\n");
    put_text(dir, "db/b.sql", "SELECT 2;\n");
    ts_sh("ln -s a.sql '%s/db/link.sql'", dir);
    git(dir, "add -A");
    git(dir, "commit -q -m pr");
    ck_assert_int_eq(policy_diff_compute(dir, "main", "pr", &lim, &d, &err), 0);
    f = find_file(d, "db/big.sql");
    ck_assert_int_eq(f->kind, POLICY_CONTENT_TOO_BIG);
    ck_assert_uint_eq(f->size, sizeof(big) - 1);
    ck_assert_ptr_null(f->content);
    ck_assert_int_eq(find_file(d, "db/link.sql")->kind, POLICY_CONTENT_SKIPPED);
    ck_assert_int_eq(find_file(d, "db/a.sql")->kind, POLICY_CONTENT_TEXT);
    policy_diff_free(d);
    /* Past max_files the rest is counted; past max_total_bytes it is listed, not read. */
    lim.max_files = 2;
    ck_assert_int_eq(policy_diff_compute(dir, "main", "pr", &lim, &d, &err), 0);
    ck_assert_uint_eq(d->n_files, 2);
    ck_assert_uint_eq(d->n_omitted, 2);
    policy_diff_free(d);
    lim.max_files = 0;
    lim.max_total_bytes = 12;
    ck_assert_int_eq(policy_diff_compute(dir, "main", "pr", &lim, &d, &err), 0);
    ck_assert_int_eq(find_file(d, "db/a.sql")->kind, POLICY_CONTENT_TEXT);
    ck_assert_int_eq(find_file(d, "db/b.sql")->kind, POLICY_CONTENT_SKIPPED);
    policy_diff_free(d);
    ts_rmtree(root);
    free(root);
    free(dir);
}
END_TEST

START_TEST(diff_errors)
{
    char *root, *dir;
    policy_diff *d = NULL;
    core_error err = {0};

    git_env();
    root = ts_tmpdir();
    ck_assert_int_eq(policy_diff_compute(root, "main", "HEAD", NULL, &d, &err), CORE_ENOTFOUND);
    dir = new_repo(root, "r");
    put_text(dir, "a", "1\n");
    git(dir, "add -A");
    git(dir, "commit -q -m one");
    ck_assert_int_eq(policy_diff_compute(dir, "main", "no-such-branch", NULL, &d, &err),
                     CORE_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "no-such-branch") != NULL, "%s", err.msg);
    git(dir, "checkout -q --orphan other");
    put_text(dir, "b", "2\n");
    git(dir, "add -A");
    git(dir, "commit -q -m unrelated");
    ck_assert_int_eq(policy_diff_compute(dir, "main", "other", NULL, &d, &err), CORE_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "no history") != NULL, "%s", err.msg);
    ck_assert_ptr_null(d);
    /* HEAD~1 style revisions resolve. */
    ck_assert_int_eq(policy_diff_compute(dir, "main", "main", NULL, &d, &err), 0);
    ck_assert_uint_eq(d->n_files, 0);
    policy_diff_free(d);
    ts_rmtree(root);
    free(root);
    free(dir);
}
END_TEST

START_TEST(diff_in_memory)
{
    policy_diff *d = NULL;

    ck_assert_int_eq(policy_diff_new(&d, NULL), 0);
    ck_assert_int_eq(policy_diff_add(d, "a.sql", NULL, POLICY_CHANGE_ADDED, POLICY_CONTENT_TEXT,
                                     "SELECT 1", 6, NULL),
                     0);
    ck_assert_int_eq(policy_diff_add(d, "b.bin", "old.bin", POLICY_CHANGE_RENAMED,
                                     POLICY_CONTENT_BINARY, NULL, 0, NULL),
                     0);
    ck_assert_uint_eq(d->n_files, 2);
    ck_assert_str_eq(d->files[0].content, "SELECT");
    ck_assert_str_eq(d->files[1].old_path, "old.bin");
    ck_assert_ptr_null(d->files[1].content);
    policy_diff_free(d);
    policy_diff_free(NULL);
}
END_TEST

/* ---- pathspecs --------------------------------------------------------------------------- */

typedef struct glob_case {
    const char *glob, *path;
    bool ignore_case, match;
} glob_case;

static const glob_case glob_cases[] = {
    {"db/**/*.sql", "db/x.sql", false, true},
    {"db/**/*.sql", "db/a/x.sql", false, true},
    {"db/**/*.sql", "db/a/b/c/x.sql", false, true},
    {"db/**/*.sql", "x/db/a.sql", false, false},
    {"db/**/*.sql", "dbx/a.sql", false, false},
    {"db/**/*.sql", "db/x.rb", false, false},
    {"**/migrations/*.py", "migrations/0001.py", false, true},
    {"**/migrations/*.py", "app/sub/migrations/0001.py", false, true},
    {"**/migrations/*.py", "app/migrations.py", false, false},
    {"a/**/b/**/c.sql", "a/b/c.sql", false, true},
    {"a/**/b/**/c.sql", "a/x/b/y/c.sql", false, true},
    {"db/migrate", "db/migrate/x.rb", false, true}, /* a folder names what is under it */
    {"DB/*.sql", "db/x.sql", false, false},
    {"DB/*.sql", "db/x.sql", true, true},
    {"schema/*.sql", "schema/a.sql", false, true},
    {"schema/*.sql", "other.sql", false, false},
};

START_TEST(pathspec_globs)
{
    const glob_case *c = &glob_cases[_i];
    char *pats[1] = {(char *)c->glob};
    policy_pathspec *ps = NULL;
    core_error err = {0};

    ck_assert_int_eq(policy_pathspec_new(pats, 1, c->ignore_case, &ps, &err), 0);
    ck_assert_msg(policy_pathspec_matches(ps, c->path) == c->match, "%s vs %s: want %d", c->glob,
                  c->path, c->match);
    policy_pathspec_free(ps);
}
END_TEST

START_TEST(pathspec_empty_and_bad)
{
    policy_pathspec *ps = NULL;
    char *empty[1] = {(char *)""};
    core_error err = {0};

    /* No pattern matches nothing (libgit2 alone would match everything). */
    ck_assert_int_eq(policy_pathspec_new(NULL, 0, false, &ps, &err), 0);
    ck_assert(!policy_pathspec_matches(ps, "a.sql"));
    policy_pathspec_free(ps);
    ck_assert_int_eq(policy_pathspec_new(empty, 1, false, &ps, &err), CORE_EINVAL);
    ck_assert_ptr_null(ps);
    ck_assert(!policy_pathspec_matches(NULL, "a.sql"));
}
END_TEST

static void setup(void)
{
    ck_assert_int_eq(policy_git_init(), 0);
}

static void teardown(void)
{
    policy_git_shutdown();
}

Suite *suite_policies_gitdiff(void)
{
    Suite *s = suite_create("policies_gitdiff");
    TCase *tc = tcase_create("gitdiff");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mirror_path_is_stable_and_safe);
    tcase_add_test(tc, fetch_plain_path_then_incremental);
    tcase_add_test(tc, fetch_file_url_and_pull_ref);
    tcase_add_test(tc, fetch_missing_remote);
    tcase_add_test(tc, fetch_https_unreachable_hides_token);
    tcase_add_test(tc, broken_mirrors_are_recloned);
    tcase_add_test(tc, fetch_caps_size_and_time);
    tcase_add_test(tc, diff_merge_base_renames_binary);
    tcase_add_test(tc, diff_caps);
    tcase_add_test(tc, diff_errors);
    tcase_add_test(tc, diff_in_memory);
    tcase_add_loop_test(tc, pathspec_globs, 0, (int)(sizeof(glob_cases) / sizeof(glob_cases[0])));
    tcase_add_test(tc, pathspec_empty_and_bad);
    suite_add_tcase(s, tc);
    return s;
}
