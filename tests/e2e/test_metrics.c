/* End to end: /metrics of a real `zoneci serve` with jobs in several states (queued,
 * leased, cancelled), checked by Prometheus's own linter (`promtool check metrics`, from
 * Debian's prometheus package, which `make deps` installs), its domain series read back,
 * every metric examples/grafana-dashboard.json queries found in the scrape, and a scrape
 * with Redis down still answering with the process's counters and zoneci_redis_up 0. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/support.h"

#define SECRET "e2e-metrics-secret"
#define TOKEN "metrics-runner-token"
#define DASHBOARD "examples/grafana-dashboard.json"

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    char base[64];
    char *env[3];
    char secret_env[128];
    char runner_env[128];
} env;

static void env_start(env *e)
{
    char *text = NULL, *config;
    char *argv[] = {"serve", "--config", NULL, NULL};
    int port = ts_free_port();

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    if (asprintf(&text,
                 "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 2},\n"
                 " \"redis\": {\"url\": \"%s\", \"prefix\": \"mt\"},\n"
                 " \"cache_dir\": \"%s/cache\",\n"
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n"
                 " \"runners\": {\"tokens_env\": \"ZT_RUNNER_TOKENS\"},\n"
                 " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                 "                \"hours\": [\"Mon-Sun 00:00-24:00\"]},\n"
                 "               {\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\",\n"
                 "                \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
                 " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"]}]}\n",
                 port, e->redis->url, e->dir) < 0)
        ck_abort_msg("asprintf");
    config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    snprintf(e->secret_env, sizeof(e->secret_env), "ZT_GH_SECRET=%s", SECRET);
    snprintf(e->runner_env, sizeof(e->runner_env), "ZT_RUNNER_TOKENS=%s", TOKEN);
    e->env[0] = e->secret_env;
    e->env[1] = e->runner_env;
    argv[2] = config;
    e->srv = ts_zoneci_spawn(argv, e->env, e->dir, e->base);
    free(config);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
}

static char *scrape(env *e)
{
    char url[128];
    ts_response r;
    char *text;

    snprintf(url, sizeof(url), "%s/metrics", e->base);
    ck_assert_int_eq(ts_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    text = strdup(r.body);
    ts_response_free(&r);
    return text;
}

/* The value of the series written exactly as `series` (name and labels); -1 if absent. */
static double value_of(const char *text, const char *series)
{
    size_t len = strlen(series);

    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, series, len) == 0 && l[len] == ' ')
            return atof(l + len + 1);
    }
    return -1;
}

typedef struct wait_series {
    env *e;
    const char *series;
    double want;
} wait_series;

static bool series_is(void *ctx)
{
    wait_series *w = ctx;
    char *text = scrape(w->e);
    bool ok = value_of(text, w->series) == w->want;

    free(text);
    return ok;
}

static void wait_for(env *e, const char *series, double want)
{
    wait_series w = {e, series, want};

    ck_assert_msg(ts_wait_until(series_is, &w, 10000), "%s never became %g", series, want);
}

static void post_pr(env *e, const char *action, int pr, const char *sha)
{
    char delivery[64];
    char *body = ts_pr_payload(action, pr, sha, false, "acme/api");
    long status;

    snprintf(delivery, sizeof(delivery), "mt-%s-%d", action, pr);
    status = ts_post_github(e->base, "pull_request", delivery, body, strlen(body), SECRET, NULL);

    ck_assert_msg(status == 200 || status == 202, "%s #%d: %ld", action, pr, status);
    free(body);
}

/* promtool check metrics on text: true when it is clean; "skip" printed, and true, when
 * promtool is not installed (make deps installs it, so make check always runs it). */
static bool promtool_clean(env *e, const char *text, char **report)
{
    char *path = ts_write_file(e->dir, "scrape.txt", text), cmd[1200];
    FILE *p;
    size_t n = 0, cap = 4096;
    int status;

    *report = calloc(1, cap);
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skip: promtool check metrics: promtool is not installed "
                        "(Debian package prometheus)\n");
        free(path);
        return true;
    }
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (n + 1 < cap && fgets(*report + n, (int)(cap - n), p))
        n += strlen(*report + n);
    status = pclose(p);
    free(path);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 0;
}

/* Every zoneci_ metric a panel of the dashboard queries, as a "# TYPE NAME " line of the
 * scrape (histogram series named by their _bucket/_sum/_count suffix). Returns how many
 * distinct expressions were checked. */
static void names_in_exprs(const json_t *j, const char *text, int *checked)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)j, k, v)
        {
            if (strcmp(k, "expr") == 0 && json_is_string(v)) {
                const char *s = json_string_value(v);

                (*checked)++;
                for (const char *m = strstr(s, "zoneci_"); m; m = strstr(m + 1, "zoneci_")) {
                    char name[128], type_line[160];
                    size_t len = strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789_");
                    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};

                    ck_assert_uint_lt(len, sizeof(name));
                    memcpy(name, m, len);
                    name[len] = '\0';
                    for (size_t i = 0; i < 3; i++) {
                        size_t sl = strlen(suffixes[i]);

                        if (len > sl && strcmp(name + len - sl, suffixes[i]) == 0) {
                            name[len - sl] = '\0';
                            break;
                        }
                    }
                    snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
                    ck_assert_msg(strstr(text, type_line), "%s queries %s: not in /metrics",
                                  DASHBOARD, name);
                    m += len - 1;
                }
            } else {
                names_in_exprs(v, text, checked);
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;

        json_array_foreach((json_t *)j, i, v) names_in_exprs(v, text, checked);
    }
}

START_TEST(scrape_with_jobs_in_several_states_passes_promtool)
{
    env e;
    json_t *claimed = NULL, *dash;
    json_error_t jerr;
    char *text, *report, body[160], auth[96], url[128];
    const char *headers[] = {"Content-Type: application/json", auth, NULL};
    ts_response r;
    int exprs = 0;

    env_start(&e);
    post_pr(&e, "opened", 1, "1111111111111111111111111111111111111111");
    post_pr(&e, "opened", 2, "2222222222222222222222222222222222222222");
    post_pr(&e, "opened", 3, "3333333333333333333333333333333333333333");
    wait_for(&e, "zoneci_queue_depth{region=\"always\"}", 3);
    post_pr(&e, "closed", 3, "3333333333333333333333333333333333333333");
    wait_for(&e, "zoneci_jobs{state=\"cancelled\"}", 1);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOKEN);
    snprintf(body, sizeof(body), "{\"runner\":\"r1\",\"region\":\"always\",\"wait_seconds\":0}");
    snprintf(url, sizeof(url), "%s/api/v1/runners/claim", e.base);
    ck_assert_int_eq(ts_http("POST", url, headers, body, strlen(body), &r), 0);
    ck_assert_int_eq(r.status, 200);
    claimed = json_loads(r.body, 0, NULL);
    ts_response_free(&r);
    ck_assert_ptr_nonnull(claimed);
    json_decref(claimed);

    text = scrape(&e);
    ck_assert_double_eq(value_of(text, "zoneci_redis_up"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_jobs{state=\"queued\"}"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_jobs{state=\"leased\"}"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_jobs{state=\"cancelled\"}"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_queue_depth{region=\"always\"}"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_queue_depth{region=\"emea-berlin\"}"), 0);
    ck_assert(value_of(text, "zoneci_queue_oldest_age_seconds{region=\"always\"}") >= 0);
    ck_assert_double_eq(value_of(text, "zoneci_region_open{region=\"always\"}"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_leases_granted_total"), 1);
    ck_assert_double_eq(value_of(text, "zoneci_approvals_pending"), 0);
    ck_assert_double_eq(value_of(text, "zoneci_approval_decision_duration_seconds_count"), 0);
    ck_assert_ptr_nonnull(strstr(text, "zoneci_tz_data_info{version=\""));
    ck_assert_msg(promtool_clean(&e, text, &report), "promtool check metrics:\n%s", report);
    free(report);

    /* The dashboard is valid JSON and queries only metrics this scrape has. */
    dash = json_load_file(DASHBOARD, 0, &jerr);
    ck_assert_msg(dash, "%s: line %d: %s", DASHBOARD, jerr.line, jerr.text);
    names_in_exprs(dash, text, &exprs);
    ck_assert_int_ge(exprs, 10);
    json_decref(dash);
    free(text);

    /* Redis gone: still 200, the process's counters, and redis_up 0 instead of false
     * zeros. */
    ts_redis_stop(e.redis);
    text = scrape(&e);
    ck_assert_double_eq(value_of(text, "zoneci_redis_up"), 0);
    ck_assert_double_eq(value_of(text, "zoneci_queue_depth{region=\"always\"}"), -1);
    ck_assert_ptr_nonnull(strstr(text, "zoneci_http_requests_total{route=\"metrics\""));
    ck_assert_double_eq(value_of(text, "zoneci_region_open{region=\"always\"}"), 1);
    ck_assert_msg(promtool_clean(&e, text, &report), "promtool check metrics:\n%s", report);
    free(report);
    free(text);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_metrics(void)
{
    Suite *s = suite_create("e2e_metrics");
    TCase *tc = tcase_create("metrics");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scrape_with_jobs_in_several_states_passes_promtool);
    suite_add_tcase(s, tc);
    return s;
}
