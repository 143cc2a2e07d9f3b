/* Per-operation micro benchmarks (never pass/fail): a region-instant evaluation with warm
 * caches, compiling a 50-region plan, and the webhook signature check on 28 KB.
 * usage: build/bench-micro [ITERATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"
#include "webhooks/signature.h"

static const char *const zones[] = {
    "Asia/Tokyo",       "Europe/Berlin",      "America/Los_Angeles", "America/Sao_Paulo",
    "Asia/Kathmandu",   "Pacific/Chatham",    "Australia/Lord_Howe", "Europe/London",
    "America/New_York", "Asia/Kolkata"};

static double per_op_ns(int64_t start_us, long n)
{
    return (double)(core_time_mono_us() - start_us) * 1000.0 / (double)n;
}

static void bench_window_eval(long n)
{
    core_hours h[2];
    sched_windows *w;
    sched_window_state st;
    int64_t at = 1773077400000LL, t0;
    long open = 0;

    core_hours_parse("Mon-Fri 09:00-18:00", &h[0], NULL);
    core_hours_parse("Sat 10:00-14:00", &h[1], NULL);
    if (sched_windows_new(&w, "Europe/Berlin", h, 2, NULL, 0, NULL) < 0)
        exit(1);
    sched_windows_eval(w, at, &st); /* warm */
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        /* a different instant each time: every 7 minutes over ~2 years */
        sched_windows_eval(w, at + (i % 150000) * 420000LL, &st);
        open += st.open;
    }
    printf("windows_eval (Europe/Berlin, 2 specs, next_open+next_close): %.0f ns/op "
           "(%ld of %ld open)\n",
           per_op_ns(t0, n), open, n);
    sched_windows_free(w);
}

static void bench_plan_50(long n)
{
    core_buf cfgtext = {0};
    policy_config *cfg;
    policy_problems problems = {0};
    core_error err;
    int64_t t0, at = 1773077400000LL;
    sched_plan *plan;

    core_buf_puts(&cfgtext, "{\"server\":{\"listen\":\"127.0.0.1:8080\"},"
                            "\"redis\":{\"url\":\"redis://127.0.0.1:6379\"},\"regions\":[");
    for (int i = 0; i < 50; i++)
        core_buf_printf(&cfgtext,
                        "%s{\"name\":\"r%d\",\"timezone\":\"%s\",\"hours\":[\"Mon-Fri "
                        "09:00-18:00\",\"Sat 22:00-02:00\"],\"holidays\":[\"2026-12-25\"]}",
                        i ? "," : "", i, zones[i % 10]);
    core_buf_puts(&cfgtext, "],\"policies\":[{\"repos\":[\"*/*\"],\"regions\":[\"r0\"]}]}");
    if (policy_config_parse(cfgtext.data, cfgtext.len, "bench", &cfg, &problems, &err) < 0) {
        fprintf(stderr, "config: %s\n", err.msg);
        exit(1);
    }
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        sched_plan_new(&plan, cfg, NULL);
        sched_plan_free(plan);
    }
    printf("plan_new (50 regions, zones cached): %.1f us/op\n", per_op_ns(t0, n) / 1000);
    sched_plan_new(&plan, cfg, NULL);
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        for (size_t r = 0; r < 50; r++) {
            sched_window_state st;

            sched_windows_eval(sched_plan_windows(plan, r), at + i * 60000, &st);
        }
    }
    printf("all 50 regions evaluated at one instant: %.1f us/op\n", per_op_ns(t0, n) / 1000);
    sched_plan_free(plan);
    policy_config_free(cfg);
    core_buf_free(&cfgtext);
}

static void bench_signature(long n)
{
    size_t len = 28 * 1024;
    char *body = malloc(len);
    char secret[] = "bench-secret";
    char *secrets[] = {secret};
    const char *sig = "sha256=0000000000000000000000000000000000000000000000000000000000000000";
    int64_t t0;
    long ok = 0;

    memset(body, 'x', len);
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++)
        ok += wh_github_signature_valid(sig, body, len, secrets, 1);
    printf("github signature check, 28 KB body, one secret: %.1f us/op (%ld matched)\n",
           per_op_ns(t0, n) / 1000, ok);
    free(body);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;

    bench_window_eval(n * 5);
    bench_plan_50(n / 1000 + 1);
    bench_signature(n / 10);
    return 0;
}
