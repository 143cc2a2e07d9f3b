/* The libgit2 adapter: bare mirrors under cache_dir kept up to date with bounded fetches, the
 * merge-base diff of a pull request, and git pathspec matching for migration globs. This is
 * the only file that includes libgit2; its rules: every object has its own _free, errors are
 * negative codes with details in git_error_last(), and global state is reference-counted by
 * git_libgit2_init / git_libgit2_shutdown, which every entry point here takes and drops. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "policies/policies.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "core/core.h"
#include "policies/inspect.h"

#define FETCH_TIMEOUT_MS_DEFAULT 120000
#define FETCH_MAX_BYTES_DEFAULT ((size_t)512 * 1024 * 1024)
#define DIFF_MAX_FILES_DEFAULT 5000
#define DIFF_MAX_FILE_BYTES_DEFAULT ((size_t)16 * 1024 * 1024)
#define DIFF_MAX_TOTAL_BYTES_DEFAULT ((size_t)32 * 1024 * 1024)
#define RENAME_LIMIT 1000
/* Refs looked at when deciding whether a mirror is intact; a mirror with more is trusted. */
#define SANITY_MAX_REFS 100000
#define MIRROR_NAME_MAX 64
#define DSTAR_VARIANTS_MAX 4

int policy_git_init(void)
{
    return git_libgit2_init() < 0 ? CORE_EUNAVAILABLE : 0;
}

void policy_git_shutdown(void)
{
    git_libgit2_shutdown();
}

/* ---- URLs -------------------------------------------------------------------------------- */

/* Copies url without a "user:password@" part into out (cap bytes), for hashing and messages. */
static void url_redact(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    const char *host, *at, *slash;

    if (!scheme) {
        snprintf(out, cap, "%s", url);
        return;
    }
    host = scheme + 3;
    slash = strchr(host, '/');
    at = strchr(host, '@');
    if (at && (!slash || at < slash))
        snprintf(out, cap, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, cap, "%s", url);
}

/* The host[:port] of an http(s) URL into out, "" when there is none. */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://"), *end, *at;

    out[0] = '\0';
    if (!p)
        return;
    p += 3;
    end = p + strcspn(p, "/?#");
    at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    snprintf(out, cap, "%.*s", (int)(end - p), p);
}

/* The password of a "scheme://user:password@host/..." URL into out, "" when there is none. */
static void url_password(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://"), *end, *at, *colon;

    out[0] = '\0';
    if (!p)
        return;
    p += 3;
    end = p + strcspn(p, "/?#");
    at = memchr(p, '@', (size_t)(end - p));
    colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (colon && at - colon > 1)
        snprintf(out, cap, "%.*s", (int)(at - colon - 1), colon + 1);
}

static bool url_is_https(const char *url)
{
    return strncmp(url, "https://", 8) == 0;
}

int policy_mirror_path(const char *cache_dir, const char *clone_url, char **out, core_error *err)
{
    char shown[1024], name[MIRROR_NAME_MAX + 1];
    const char *last, *end;
    size_t n = 0, len;
    core_buf b = {0};

    CORE_ASSERT(cache_dir && clone_url && out);
    *out = NULL;
    if (!clone_url[0])
        return core_error_set(err, CORE_EINVAL, "empty clone url");
    url_redact(clone_url, shown, sizeof(shown));
    len = strlen(shown);
    while (len > 1 && shown[len - 1] == '/')
        shown[--len] = '\0';
    end = shown + len;
    if (len > 4 && strcmp(end - 4, ".git") == 0)
        end -= 4;
    last = end;
    while (last > shown && last[-1] != '/' && last[-1] != ':')
        last--;
    /* Only a readable, inert name: the hash keeps two URLs with the same last part apart. */
    for (const char *p = last; p < end && n < MIRROR_NAME_MAX; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && n > 0);
        name[n++] = ok ? c : '_';
    }
    name[n] = '\0';
    if (n == 0)
        strcpy(name, "repo");
    if (core_buf_printf(&b, "%s/%s-%016llx.git", cache_dir, name,
                        (unsigned long long)core_fnv1a(shown)) < 0)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    *out = core_buf_steal(&b);
    return 0;
}

/* ---- the cache folder -------------------------------------------------------------------- */

/* mkdir -p with mode 0700: mirrors hold private code. */
static int mkdirs(const char *dir, core_error *err)
{
    char *path = strdup(dir);
    int rc = 0;

    if (!path)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        {
            char saved = *p;

            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                rc = core_error_set(err, CORE_EIO, "cannot create %s: %s", path, strerror(errno));
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(path);
    return rc;
}

/* ---- removing a broken mirror ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int rmtree(const char *path, core_error *err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : core_error_set(err, CORE_EIO, "%s: %s", path, strerror(errno));
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return core_error_set(err, CORE_EIO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* ---- libgit2 errors ---------------------------------------------------------------------- */

/* Replaces every secret (at least 3 bytes long) in buf with "***". */
static void redact(char *buf, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    char *hit;

    if (sl < 3)
        return;
    while ((hit = strstr(buf, secret)) != NULL) {
        memmove(hit + 3, hit + sl, strlen(hit + sl) + 1);
        memcpy(hit, "***", 3);
    }
}

/* Copies libgit2's last message into buf, with the secret the caller names cut out. */
static const char *git_message(char *buf, size_t cap, const char *secret)
{
    const git_error *e = git_error_last();

    snprintf(buf, cap, "%s", e && e->message ? e->message : "unknown libgit2 error");
    redact(buf, secret);
    return buf;
}

/* True when libgit2's last error comes from the repository itself rather than the network:
 * then deleting the mirror and cloning again is the cure. */
static bool git_error_is_local_damage(void)
{
    const git_error *e = git_error_last();

    if (!e)
        return false;
    switch (e->klass) {
    case GIT_ERROR_ODB:
    case GIT_ERROR_REPOSITORY:
    case GIT_ERROR_REFERENCE:
    case GIT_ERROR_OBJECT:
    case GIT_ERROR_ZLIB:
    case GIT_ERROR_TREE:
    case GIT_ERROR_INDEXER:
        return true;
    default:
        return false;
    }
}

/* ---- fetching ---------------------------------------------------------------------------- */

typedef struct fetch_ctx {
    int64_t deadline_ms;
    int64_t timeout_ms;
    size_t max_bytes;
    const char *token;
    char password[256]; /* from the clone URL, kept out of messages too */
    char host[256];
    int cred_calls;
    int abort_code; /* set by a callback that stopped the transfer */
    bool cancelled;
    const atomic_int *cancel;
} fetch_ctx;

static int fetch_check(fetch_ctx *c, size_t received)
{
    if (c->cancel && atomic_load(c->cancel)) {
        c->abort_code = CORE_EAGAIN;
        c->cancelled = true;
        return -1;
    }
    if (core_time_mono_ms() >= c->deadline_ms) {
        c->abort_code = CORE_EAGAIN;
        return -1;
    }
    if (received > c->max_bytes) {
        c->abort_code = CORE_ETOOBIG;
        return -1;
    }
    return 0;
}

static int on_transfer(const git_indexer_progress *stats, void *payload)
{
    return fetch_check(payload, stats->received_bytes);
}

static int on_sideband(const char *str, int len, void *payload)
{
    (void)str;
    (void)len;
    return fetch_check(payload, 0);
}

static int on_ready(git_remote *remote, int direction, void *payload)
{
    (void)remote;
    (void)direction;
    return fetch_check(payload, 0);
}

/* Hands the token over only on HTTPS, only to the clone URL's own host (a redirect elsewhere
 * gets nothing), and only once: a refused token is not retried forever. */
static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload)
{
    fetch_ctx *c = payload;
    char host[256];

    (void)user_from_url;
    if (!c->token || !c->token[0] || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) ||
        !url_is_https(url))
        return GIT_PASSTHROUGH;
    url_host(url, host, sizeof(host));
    if (strcmp(host, c->host) != 0)
        return GIT_PASSTHROUGH;
    if (c->cred_calls++ > 0) {
        c->abort_code = CORE_EAUTH;
        git_error_set_str(GIT_ERROR_CALLBACK, "credentials refused");
        return GIT_EAUTH;
    }
    return git_credential_userpass_plaintext_new(out, "x-access-token", c->token);
}

/* Maps a failed fetch to our codes; *damaged says whether a fresh clone may help. */
static int fetch_error(int grc, const fetch_ctx *c, const char *shown, bool *damaged,
                       core_error *err)
{
    char msg[200];
    const git_error *e;

    *damaged = false;
    if (c->cancelled)
        return core_error_set(err, CORE_EAGAIN, "fetch of %s: cancelled (shutting down)", shown);
    if (c->abort_code == CORE_EAGAIN)
        return core_error_set(err, CORE_EAGAIN, "fetch of %s: no result within %lld ms", shown,
                              (long long)c->timeout_ms);
    if (c->abort_code == CORE_ETOOBIG)
        return core_error_set(err, CORE_ETOOBIG, "fetch of %s: more than %zu bytes", shown,
                              c->max_bytes);
    git_message(msg, sizeof(msg), c->token);
    redact(msg, c->password);
    if (c->abort_code == CORE_EAUTH || grc == GIT_EAUTH)
        return core_error_set(err, CORE_EAUTH, "fetch of %s: authentication failed: %s", shown,
                              msg);
    if (grc == GIT_ENOTFOUND || strstr(msg, "404") || strstr(msg, "does not appear to be"))
        return core_error_set(err, CORE_ENOTFOUND, "fetch of %s: %s", shown, msg);
    e = git_error_last();
    if (git_error_is_local_damage()) {
        *damaged = true;
        return core_error_set(err, CORE_EIO, "fetch of %s: %s", shown, msg);
    }
    if (e && e->klass == GIT_ERROR_OS && strstr(msg, "resolve path"))
        return core_error_set(err, CORE_ENOTFOUND, "fetch of %s: %s", shown, msg);
    return core_error_set(err, CORE_EUNAVAILABLE, "fetch of %s: %s", shown, msg);
}

static int fetch_refspecs(git_repository *repo, const char *url, char **specs, size_t n,
                          fetch_ctx *c, const char *shown, bool *damaged, core_error *err)
{
    git_remote *remote = NULL;
    git_remote_create_options ropts;
    git_fetch_options opts;
    git_strarray arr = {specs, n};
    int grc, rc = 0;

    *damaged = false;
    c->abort_code = 0;
    c->cred_calls = 0;
    /* The _init function rather than the INIT macro, which leaves fields to -Wextra. */
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    /* An in-memory remote: the mirror's config never stores a URL, so a changed URL or a
     * token-bearing one leaves nothing behind. No url.*.insteadOf rewriting either: the URL
     * is the caller's (and libgit2 1.5 leaks a PCRE match block per config entry it tests). */
    git_remote_create_options_init(&ropts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ropts.repository = repo;
    ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    grc = git_remote_create_with_opts(&remote, url, &ropts);
    if (grc < 0) {
        char msg[200];

        return core_error_set(err, CORE_EINVAL, "bad clone url %s: %s", shown,
                              git_message(msg, sizeof(msg), c->token));
    }
    opts.callbacks.transfer_progress = on_transfer;
    opts.callbacks.sideband_progress = on_sideband;
    opts.callbacks.remote_ready = on_ready;
    opts.callbacks.credentials = on_credentials;
    opts.callbacks.payload = c;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.update_fetchhead = 0;
    opts.prune = GIT_FETCH_NO_PRUNE;
    opts.proxy_opts.type = GIT_PROXY_AUTO;
    grc = git_remote_fetch(remote, &arr, &opts, NULL);
    if (grc < 0)
        rc = fetch_error(grc, c, shown, damaged, err);
    git_remote_free(remote);
    return rc;
}

/* A mirror is intact when every direct ref points at an object that exists. */
static bool mirror_is_sane(git_repository *repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    git_odb *odb = NULL;
    bool ok = true;
    size_t n = 0;

    if (!git_repository_is_bare(repo) || git_repository_odb(&odb, repo) < 0)
        return false;
    if (git_reference_iterator_new(&it, repo) < 0) {
        git_odb_free(odb);
        return false;
    }
    while (ok && n++ < SANITY_MAX_REFS) {
        int grc = git_reference_next(&ref, it);

        if (grc == GIT_ITEROVER)
            break;
        if (grc < 0) {
            ok = false;
            break;
        }
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT)
            ok = git_odb_exists(odb, git_reference_target(ref)) == 1;
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    git_odb_free(odb);
    return ok;
}

/* Opens the mirror at path, or makes a new one when it is missing or broken. */
static int mirror_open(const char *path, git_repository **out, bool *fresh, core_error *err)
{
    char msg[200];

    *out = NULL;
    *fresh = false;
    if (git_repository_open_bare(out, path) == 0) {
        if (mirror_is_sane(*out))
            return 0;
        CORE_LOG(CORE_LOG_WARN, "mirror_broken", "path=\"%s\" action=reclone", path);
        git_repository_free(*out);
        *out = NULL;
    }
    if (rmtree(path, err) < 0)
        return CORE_EIO;
    if (git_repository_init(out, path, 1) < 0)
        return core_error_set(err, CORE_EIO, "cannot create mirror %s: %s", path,
                              git_message(msg, sizeof(msg), NULL));
    *fresh = true;
    return 0;
}

static bool has_object(git_repository *repo, const git_oid *oid)
{
    git_odb *odb = NULL;
    bool yes;

    if (git_repository_odb(&odb, repo) < 0)
        return false;
    yes = git_odb_exists(odb, oid) == 1;
    git_odb_free(odb);
    return yes;
}

/* One fetch of every branch, plus the pull request's ref when pr > 0 (a refspec that names
 * nothing on the remote is no error). A fork's head is on no branch of the base repository,
 * only on refs/pull/<pr>/head. */
static int fetch_once(git_repository *repo, const char *url, const git_oid *head, int64_t pr,
                      fetch_ctx *c, const char *shown, bool *damaged, core_error *err)
{
    char pull[96];
    char *specs[2] = {"+refs/heads/*:refs/heads/*", pull};
    int rc;

    snprintf(pull, sizeof(pull), "+refs/pull/%lld/head:refs/pull/%lld/head", (long long)pr,
             (long long)pr);
    rc = fetch_refspecs(repo, url, specs, pr > 0 ? 2 : 1, c, shown, damaged, err);
    if (rc < 0 || !head || has_object(repo, head))
        return rc;
    *damaged = false;
    return core_error_set(err, CORE_ENOTFOUND, "commit %.12s not found in %s%s",
                          git_oid_tostr_s(head), shown,
                          pr > 0 ? " nor in its pull request ref" : "");
}

/* Local remotes are paths: a missing one is "not found" (libgit2 would call it an unknown
 * protocol). */
static bool local_remote_missing(const char *url)
{
    struct stat st;
    const char *path = url;

    if (strncmp(url, "file://", 7) == 0)
        path = url + 7;
    else if (strstr(url, "://") || (strchr(url, ':') && url[0] != '/' && url[0] != '.'))
        return false; /* a network URL, or scp-like host:path */
    return stat(path, &st) < 0;
}

int policy_mirror_fetch(const char *cache_dir, const char *clone_url, const char *token,
                        const char *head_sha, int64_t pr, const policy_fetch_limits *limits,
                        char **out, core_error *err)
{
    fetch_ctx c = {0};
    char shown[1024];
    char *path = NULL;
    git_oid head_oid;
    const git_oid *head = NULL;
    int rc;

    CORE_ASSERT(cache_dir && clone_url && out);
    *out = NULL;
    if (head_sha) {
        if (strlen(head_sha) != GIT_OID_HEXSZ || git_oid_fromstr(&head_oid, head_sha) < 0)
            return core_error_set(err, CORE_EINVAL, "head sha must be 40 hex digits");
        head = &head_oid;
    }
    rc = policy_mirror_path(cache_dir, clone_url, &path, err);
    if (rc < 0)
        return rc;
    if (git_libgit2_init() < 0) {
        free(path);
        return core_error_set(err, CORE_EUNAVAILABLE, "libgit2 cannot start");
    }
    url_redact(clone_url, shown, sizeof(shown));
    url_host(clone_url, c.host, sizeof(c.host));
    url_password(clone_url, c.password, sizeof(c.password));
    c.token = token;
    c.timeout_ms = limits && limits->timeout_ms > 0 ? limits->timeout_ms : FETCH_TIMEOUT_MS_DEFAULT;
    c.max_bytes = limits && limits->max_bytes > 0 ? limits->max_bytes : FETCH_MAX_BYTES_DEFAULT;
    c.deadline_ms = core_time_mono_ms() + c.timeout_ms;
    c.cancel = limits ? limits->cancel : NULL;
    if (local_remote_missing(clone_url)) {
        rc = core_error_set(err, CORE_ENOTFOUND, "no repository at %s", shown);
        goto out;
    }
    rc = mkdirs(cache_dir, err);
    if (rc < 0)
        goto out;
    /* A second round only after damage found in a mirror that was not fresh. */
    for (int attempt = 0; attempt < 2; attempt++) {
        git_repository *repo = NULL;
        bool fresh, damaged = false;

        rc = mirror_open(path, &repo, &fresh, err);
        if (rc < 0)
            goto out;
        rc = fetch_once(repo, clone_url, head, pr, &c, shown, &damaged, err);
        if (rc == 0 && !mirror_is_sane(repo)) {
            damaged = true;
            rc = core_error_set(err, CORE_EIO, "mirror %s has refs to missing objects", path);
        }
        git_repository_free(repo);
        if (rc == 0 || !damaged || fresh)
            break;
        CORE_LOG(CORE_LOG_WARN, "mirror_broken", "path=\"%s\" action=reclone err=\"%s\"", path,
                 err ? err->msg : "");
        if (rmtree(path, err) < 0) {
            rc = CORE_EIO;
            break;
        }
    }
out:
    git_libgit2_shutdown();
    if (rc == 0)
        *out = path;
    else
        free(path);
    return rc;
}

/* ---- the diff ---------------------------------------------------------------------------- */

int policy_diff_new(policy_diff **out, core_error *err)
{
    CORE_ASSERT(out);
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : core_error_set(err, CORE_ENOMEM, "out of memory");
}

static void diff_file_clear(policy_diff_file *f)
{
    free(f->path);
    free(f->old_path);
    free(f->content);
}

void policy_diff_free(policy_diff *diff)
{
    if (!diff)
        return;
    for (size_t i = 0; i < diff->n_files; i++)
        diff_file_clear(&diff->files[i]);
    free(diff->files);
    free(diff);
}

/* Appends a file entry without content; returns it or NULL when memory runs out. */
static policy_diff_file *diff_append(policy_diff *diff, const char *path, const char *old_path,
                                     policy_change change, policy_content kind, size_t size)
{
    policy_diff_file *files, *f;

    files = realloc(diff->files, (diff->n_files + 1) * sizeof(*files));
    if (!files)
        return NULL;
    diff->files = files;
    f = &files[diff->n_files];
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    f->old_path = old_path ? strdup(old_path) : NULL;
    if (!f->path || (old_path && !f->old_path)) {
        diff_file_clear(f);
        return NULL;
    }
    f->change = change;
    f->kind = kind;
    f->size = size;
    diff->n_files++;
    return f;
}

int policy_diff_add(policy_diff *diff, const char *path, const char *old_path, policy_change change,
                    policy_content kind, const char *content, size_t len, core_error *err)
{
    policy_diff_file *f;
    char *copy = NULL;

    CORE_ASSERT(diff && path);
    if (content) {
        copy = malloc(len + 1);
        if (!copy)
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        memcpy(copy, content, len);
        copy[len] = '\0';
    }
    f = diff_append(diff, path, old_path, change, kind, len);
    if (!f) {
        free(copy);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    f->content = copy;
    f->content_len = copy ? len : 0;
    return 0;
}

static int resolve_commit(git_repository *repo, const char *rev, git_oid *out, core_error *err)
{
    git_object *obj = NULL, *commit = NULL;
    char msg[200];

    if (git_revparse_single(&obj, repo, rev) < 0)
        return core_error_set(err, CORE_ENOTFOUND, "unknown revision \"%s\": %s", rev,
                              git_message(msg, sizeof(msg), NULL));
    if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
        git_object_free(obj);
        return core_error_set(err, CORE_ENOTFOUND, "revision \"%s\" is not a commit", rev);
    }
    git_oid_cpy(out, git_object_id(commit));
    git_object_free(commit);
    git_object_free(obj);
    return 0;
}

static int commit_tree(git_repository *repo, const git_oid *id, git_tree **out, core_error *err)
{
    git_commit *c = NULL;
    char msg[200];
    int grc;

    if (git_commit_lookup(&c, repo, id) < 0)
        return core_error_set(err, CORE_EIO, "commit %s: %s", git_oid_tostr_s(id),
                              git_message(msg, sizeof(msg), NULL));
    grc = git_commit_tree(out, c);
    git_commit_free(c);
    if (grc < 0)
        return core_error_set(err, CORE_EIO, "tree of %s: %s", git_oid_tostr_s(id),
                              git_message(msg, sizeof(msg), NULL));
    return 0;
}

/* Reads one blob into f within the caps; total counts the bytes read so far. */
static int read_blob(git_repository *repo, git_odb *odb, const git_diff_file *gf,
                     policy_diff_file *f, const policy_diff_limits *lim, size_t *total,
                     core_error *err)
{
    git_blob *blob = NULL;
    git_object_t type;
    size_t size = 0;
    char msg[200];

    if (gf->mode == GIT_FILEMODE_LINK) {
        f->kind = POLICY_CONTENT_SKIPPED;
        return 0;
    }
    /* The header gives the size without inflating a blob that may be huge. */
    if (git_odb_read_header(&size, &type, odb, &gf->id) < 0)
        return core_error_set(err, CORE_EIO, "blob of %s: %s", f->path,
                              git_message(msg, sizeof(msg), NULL));
    f->size = size;
    if (size > lim->max_file_bytes) {
        f->kind = POLICY_CONTENT_TOO_BIG;
        return 0;
    }
    if (size > lim->max_total_bytes - *total) {
        f->kind = POLICY_CONTENT_SKIPPED;
        return 0;
    }
    if (git_blob_lookup(&blob, repo, &gf->id) < 0)
        return core_error_set(err, CORE_EIO, "blob of %s: %s", f->path,
                              git_message(msg, sizeof(msg), NULL));
    if (git_blob_is_binary(blob)) {
        f->kind = POLICY_CONTENT_BINARY;
    } else {
        size_t len = (size_t)git_blob_rawsize(blob);

        f->content = malloc(len + 1);
        if (!f->content) {
            git_blob_free(blob);
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        }
        memcpy(f->content, git_blob_rawcontent(blob), len);
        f->content[len] = '\0';
        f->content_len = len;
        f->kind = POLICY_CONTENT_TEXT;
        *total += len;
    }
    git_blob_free(blob);
    return 0;
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const policy_diff_file *)a)->path, ((const policy_diff_file *)b)->path);
}

static int collect(git_repository *repo, git_diff *gd, const policy_diff_limits *lim,
                   policy_diff *d, core_error *err)
{
    git_odb *odb = NULL;
    size_t total = 0, n = git_diff_num_deltas(gd);
    char msg[200];
    int rc = 0;

    if (git_repository_odb(&odb, repo) < 0)
        return core_error_set(err, CORE_EIO, "object database: %s",
                              git_message(msg, sizeof(msg), NULL));
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_diff_delta *dl = git_diff_get_delta(gd, i);
        policy_change change;
        policy_diff_file *f;

        switch (dl->status) {
        case GIT_DELTA_ADDED:
        case GIT_DELTA_COPIED:
            change = POLICY_CHANGE_ADDED;
            break;
        case GIT_DELTA_MODIFIED:
        case GIT_DELTA_TYPECHANGE:
            change = POLICY_CHANGE_MODIFIED;
            break;
        case GIT_DELTA_RENAMED:
            change = POLICY_CHANGE_RENAMED;
            break;
        default:
            continue;
        }
        if (dl->new_file.mode == GIT_FILEMODE_COMMIT) /* a submodule: nothing to read */
            continue;
        if (d->n_files >= lim->max_files) {
            d->n_omitted++;
            continue;
        }
        f = diff_append(d, dl->new_file.path,
                        change == POLICY_CHANGE_RENAMED ? dl->old_file.path : NULL, change,
                        POLICY_CONTENT_SKIPPED, 0);
        if (!f) {
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            break;
        }
        rc = read_blob(repo, odb, &dl->new_file, f, lim, &total, err);
    }
    git_odb_free(odb);
    if (rc == 0 && d->n_files > 1)
        qsort(d->files, d->n_files, sizeof(d->files[0]), file_cmp);
    return rc;
}

int policy_diff_compute(const char *repo_path, const char *base, const char *head,
                        const policy_diff_limits *limits, policy_diff **out, core_error *err)
{
    git_repository *repo = NULL;
    git_tree *old_tree = NULL, *new_tree = NULL;
    git_diff *gd = NULL;
    git_diff_options dopts;
    git_diff_find_options fopts;
    git_oid base_oid, head_oid, mb;
    policy_diff_limits lim = {DIFF_MAX_FILES_DEFAULT, DIFF_MAX_FILE_BYTES_DEFAULT,
                              DIFF_MAX_TOTAL_BYTES_DEFAULT};
    policy_diff *d = NULL;
    char msg[200];
    int rc, grc;

    CORE_ASSERT(repo_path && base && head && out);
    *out = NULL;
    if (limits) {
        if (limits->max_files)
            lim.max_files = limits->max_files;
        if (limits->max_file_bytes)
            lim.max_file_bytes = limits->max_file_bytes;
        if (limits->max_total_bytes)
            lim.max_total_bytes = limits->max_total_bytes;
    }
    if (git_libgit2_init() < 0)
        return core_error_set(err, CORE_EUNAVAILABLE, "libgit2 cannot start");
    if (git_repository_open_ext(&repo, repo_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        rc = core_error_set(err, CORE_ENOTFOUND, "%s is not a git repository: %s", repo_path,
                            git_message(msg, sizeof(msg), NULL));
        goto out;
    }
    rc = resolve_commit(repo, base, &base_oid, err);
    if (rc == 0)
        rc = resolve_commit(repo, head, &head_oid, err);
    if (rc < 0)
        goto out;
    grc = git_merge_base(&mb, repo, &base_oid, &head_oid);
    if (grc == GIT_ENOTFOUND) {
        rc = core_error_set(err, CORE_ENOTFOUND, "%s and %s share no history", base, head);
        goto out;
    }
    if (grc < 0) {
        rc = core_error_set(err, CORE_EIO, "merge base of %s and %s: %s", base, head,
                            git_message(msg, sizeof(msg), NULL));
        goto out;
    }
    rc = commit_tree(repo, &mb, &old_tree, err);
    if (rc == 0)
        rc = commit_tree(repo, &head_oid, &new_tree, err);
    if (rc < 0)
        goto out;
    git_diff_options_init(&dopts, GIT_DIFF_OPTIONS_VERSION);
    git_diff_find_options_init(&fopts, GIT_DIFF_FIND_OPTIONS_VERSION);
    /* Binary detection is done per blob below; bigger blobs are never inflated for it. */
    dopts.flags = GIT_DIFF_SKIP_BINARY_CHECK;
    dopts.max_size = (git_off_t)lim.max_file_bytes;
    fopts.flags = GIT_DIFF_FIND_RENAMES;
    fopts.rename_limit = RENAME_LIMIT;
    if (git_diff_tree_to_tree(&gd, repo, old_tree, new_tree, &dopts) < 0 ||
        git_diff_find_similar(gd, &fopts) < 0) {
        rc = core_error_set(err, CORE_EIO, "diff %s...%s: %s", base, head,
                            git_message(msg, sizeof(msg), NULL));
        goto out;
    }
    rc = policy_diff_new(&d, err);
    if (rc < 0)
        goto out;
    git_oid_tostr(d->merge_base, sizeof(d->merge_base), &mb);
    git_oid_tostr(d->head, sizeof(d->head), &head_oid);
    rc = collect(repo, gd, &lim, d, err);
out:
    git_diff_free(gd);
    git_tree_free(old_tree);
    git_tree_free(new_tree);
    git_repository_free(repo);
    git_libgit2_shutdown();
    if (rc < 0) {
        policy_diff_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- pathspecs --------------------------------------------------------------------------- */

struct policy_pathspec {
    git_pathspec *ps;
    uint32_t flags;
};

/* Appends pattern and its variants with one or more "**" + "/" taken out (after a "/" or at
 * the start), so that the double star also stands for no folder. */
static int add_variants(const char *pattern, char ***list, size_t *n, size_t *cap)
{
    const char *hits[DSTAR_VARIANTS_MAX];
    size_t nh = 0, plen = strlen(pattern);

    for (const char *p = strstr(pattern, "**/"); p && nh < DSTAR_VARIANTS_MAX;
         p = strstr(p + 3, "**/")) {
        if (p == pattern || p[-1] == '/')
            hits[nh++] = p;
    }
    for (unsigned mask = 0; mask < (1u << nh); mask++) {
        char *v = malloc(plen + 1), *w = v;
        const char *r = pattern;

        if (!v)
            return CORE_ENOMEM;
        for (size_t h = 0; h < nh; h++) {
            size_t keep = (size_t)(hits[h] - r);

            memcpy(w, r, keep);
            w += keep;
            r = hits[h];
            if (mask & (1u << h))
                r += 3;
        }
        strcpy(w, r);
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            char **grown = realloc(*list, nc * sizeof(*grown));

            if (!grown) {
                free(v);
                return CORE_ENOMEM;
            }
            *list = grown;
            *cap = nc;
        }
        (*list)[(*n)++] = v;
    }
    return 0;
}

int policy_pathspec_new(char *const *patterns, size_t n, bool ignore_case, policy_pathspec **out,
                        core_error *err)
{
    char **list = NULL;
    size_t nl = 0, cap = 0;
    git_strarray arr;
    policy_pathspec *ps = NULL;
    char msg[200];
    int rc = 0;

    CORE_ASSERT(out && (patterns || n == 0));
    *out = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!patterns[i] || !patterns[i][0])
            rc = core_error_set(err, CORE_EINVAL, "empty path glob");
        else if (add_variants(patterns[i], &list, &nl, &cap) < 0)
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    if (rc < 0)
        goto out;
    ps = calloc(1, sizeof(*ps));
    if (!ps || git_libgit2_init() < 0) {
        free(ps);
        ps = NULL;
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    ps->flags = ignore_case ? GIT_PATHSPEC_IGNORE_CASE : GIT_PATHSPEC_USE_CASE;
    arr.strings = list;
    arr.count = nl;
    /* An empty list would match every path in libgit2: leave ps->ps NULL instead. */
    if (nl > 0 && git_pathspec_new(&ps->ps, &arr) < 0) {
        rc = core_error_set(err, CORE_EINVAL, "bad path glob: %s",
                            git_message(msg, sizeof(msg), NULL));
        policy_pathspec_free(ps);
        ps = NULL;
    }
out:
    for (size_t i = 0; i < nl; i++)
        free(list[i]);
    free(list);
    *out = ps;
    return rc;
}

bool policy_pathspec_matches(const policy_pathspec *ps, const char *path)
{
    if (!ps || !ps->ps)
        return false;
    /* git_pathspec_matches_path does not modify the pathspec. */
    return git_pathspec_matches_path(ps->ps, ps->flags, path) == 1;
}

void policy_pathspec_free(policy_pathspec *ps)
{
    if (!ps)
        return;
    git_pathspec_free(ps->ps);
    free(ps);
    git_libgit2_shutdown();
}
