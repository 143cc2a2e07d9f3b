/* End to end through a Redis failover: a primary, one replica and three redis-sentinel
 * processes on free ports of 127.0.0.1, and a real `zoneci serve` that knows only the
 * sentinels. Deliveries are posted from a thread while the primary is SIGKILLed; every
 * delivery answered 202 must have its job on the promoted replica, and zoneci must answer
 * 202 again by itself soon after the kill. */
#define _GNU_SOURCE
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/support.h"

#define SECRET "failover-secret"
#define N_SENTINELS 3
#define DELIVERIES_MAX 400
#define RECOVER_MS 15000

/* Every process the test starts, so that a failing assertion (which exits the forked
 * test) still leaves none behind. */
static pid_t started[8];
static size_t n_started;

static void kill_all(void)
{
    for (size_t i = 0; i < n_started; i++) {
        if (started[i] > 0) {
            kill(started[i], SIGKILL);
            waitpid(started[i], NULL, 0);
            started[i] = 0;
        }
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t start_proc(const char *file, char *const argv[])
{
    pid_t pid = fork();

    ck_assert(pid >= 0);
    if (pid == 0) {
        execvp(file, argv);
        _exit(127);
    }
    started[n_started++] = pid;
    return pid;
}

/* redis-cli -p port ARGS, trimmed (malloc'd). */
static char *cli(int port, const char *args)
{
    char cmd[1024];
    char *out = calloc(1, 65536);
    size_t n;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d %s 2>&1", port, args);
    p = popen(cmd, "r");
    ck_assert(p != NULL);
    n = fread(out, 1, 65535, p);
    pclose(p);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    return out;
}

typedef struct probe {
    int port;
    const char *args;
    const char *want; /* substring of the answer */
} probe;

static bool answers(void *ctx)
{
    probe *p = ctx;
    char *out = cli(p->port, p->args);
    bool ok = strstr(out, p->want) != NULL;

    free(out);
    return ok;
}

static void wait_answer(int port, const char *args, const char *want, int ms)
{
    probe p = {port, args, want};

    ck_assert_msg(ts_wait_until(answers, &p, ms), "127.0.0.1:%d never answered %s with %s", port,
                  args, want);
}

static pid_t redis_start(const char *dir, const char *name, int port, int primary_port)
{
    char sub[600], log[700], ports[16], of[32];
    char *argv[20];
    int n = 0;

    snprintf(sub, sizeof(sub), "%s/%s", dir, name);
    ts_sh("mkdir -p '%s'", sub);
    snprintf(log, sizeof(log), "%s/redis.log", sub);
    snprintf(ports, sizeof(ports), "%d", port);
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = ports;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--dir";
    argv[n++] = sub;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--logfile";
    argv[n++] = log;
    if (primary_port) {
        snprintf(of, sizeof(of), "127.0.0.1 %d", primary_port);
        argv[n++] = "--replicaof";
        argv[n++] = of;
    }
    argv[n] = NULL;
    return start_proc("redis-server", argv);
}

static void sentinel_start(const char *dir, int port, int primary_port)
{
    char name[32], text[1024], *path;
    char *argv[3] = {"redis-sentinel", NULL, NULL};

    snprintf(name, sizeof(name), "sentinel-%d.conf", port);
    snprintf(text, sizeof(text),
             "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/sentinel-%d.log\n"
             "sentinel monitor m 127.0.0.1 %d 2\n"
             "sentinel down-after-milliseconds m 1000\n"
             "sentinel failover-timeout m 5000\n"
             "sentinel parallel-syncs m 1\n",
             port, dir, dir, port, primary_port);
    /* Sentinel rewrites its file: it must be its own and writable. */
    path = ts_write_file(dir, name, text);
    argv[1] = path;
    start_proc("redis-sentinel", argv);
    free(path);
}

typedef struct poster {
    const char *base;
    atomic_bool stop;
    atomic_int_least64_t kill_ms; /* 0 until the primary is killed */
    atomic_int accepted;          /* 202s so far */
    atomic_int accepted_after;    /* 202s for requests started after the kill */
    atomic_int_least64_t first_after_ms;
    /* Written by the poster only; read after it is joined. */
    bool ok[DELIVERIES_MAX];
    int n;
    int unavailable;
    int duplicates; /* 200: a retry found the job its 503'd attempt had made */
} poster;

/* Posts delivery fo-N (PR N+1, its own head) until it is accepted, then the next, as GitHub
 * would redeliver: a 503 is retried after a short pause. A 503 can come after the job was
 * written (no replica acknowledged it, or the connection broke on the way back), so the
 * retry may answer 200 "duplicate": accepted too, and only after a 503. */
static void *post_main(void *arg)
{
    poster *p = arg;
    bool retrying = false;

    while (!atomic_load(&p->stop) && p->n < DELIVERIES_MAX) {
        char delivery[32], sha[41];
        int64_t started_ms = now_ms();
        int64_t killed;
        char *body;
        long status;

        snprintf(delivery, sizeof(delivery), "fo-%d", p->n);
        snprintf(sha, sizeof(sha), "%040x", p->n + 1);
        body = ts_pr_payload("opened", p->n + 1, sha, false, "acme/api");
        status =
            ts_post_github(p->base, "pull_request", delivery, body, strlen(body), SECRET, NULL);
        free(body);
        ck_assert_msg(status == 202 || status == 503 || (status == 200 && retrying),
                      "delivery %s answered %ld", delivery, status);
        if (status == 200)
            p->duplicates++;
        if (status != 503) {
            retrying = false;
            p->ok[p->n++] = true;
            atomic_fetch_add(&p->accepted, 1);
            killed = atomic_load(&p->kill_ms);
            if (killed && started_ms > killed && atomic_fetch_add(&p->accepted_after, 1) == 0)
                atomic_store(&p->first_after_ms, now_ms());
            continue;
        }
        retrying = true;
        p->unavailable++;
        poll(NULL, 0, 50);
    }
    return NULL;
}

START_TEST(acknowledged_deliveries_survive_a_failover)
{
    char *dir = ts_tmpdir();
    int primary = ts_free_port(), replica = ts_free_port(), port = ts_free_port();
    int sentinels[N_SENTINELS];
    char base[64], nodes[256] = "", *config, *text = NULL, *out;
    char *argv[] = {"serve", "--config", NULL, NULL};
    char *env[] = {"ZT_GH_SECRET=" SECRET, NULL};
    pthread_t thread;
    poster *p = calloc(1, sizeof(*p));
    ts_proc *srv;
    size_t srv_slot;
    int64_t deadline;

    atexit(kill_all);
    redis_start(dir, "primary", primary, 0);
    wait_answer(primary, "PING", "PONG", 10000);
    redis_start(dir, "replica", replica, primary);
    wait_answer(replica, "INFO replication", "master_link_status:up", 10000);
    for (int i = 0; i < N_SENTINELS; i++) {
        sentinels[i] = ts_free_port();
        sentinel_start(dir, sentinels[i], primary);
        snprintf(nodes + strlen(nodes), sizeof(nodes) - strlen(nodes), "%s\"127.0.0.1:%d\"",
                 i ? ", " : "", sentinels[i]);
    }
    /* A failover needs the sentinels to know each other (a majority votes) and the replica. */
    for (int i = 0; i < N_SENTINELS; i++) {
        wait_answer(sentinels[i], "SENTINEL master m", "num-other-sentinels\n2", 20000);
        wait_answer(sentinels[i], "SENTINEL master m", "num-slaves\n1", 20000);
    }

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    ck_assert(
        asprintf(&text,
                 "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 4},\n"
                 " \"redis\": {\"sentinel\": {\"master\": \"m\", \"nodes\": [%s]},\n"
                 "           \"prefix\": \"zt\", \"wait_replica_ms\": 1000},\n"
                 " \"cache_dir\": \"%s/cache\",\n"
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n"
                 " \"regions\": [{\"name\": \"emea-berlin\", \"timezone\": "
                 "\"Europe/Berlin\", \"hours\": [\"Mon-Fri 09:00-18:00\"]}],\n"
                 " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"emea-berlin\"]}]}\n",
                 port, nodes, dir) > 0);
    config = ts_write_file(dir, "zoneci.json", text);
    argv[2] = config;
    srv = ts_zoneci_spawn(argv, env, dir, base);
    srv_slot = n_started;
    started[n_started++] = srv->pid;

    p->base = base;
    atomic_init(&p->stop, false);
    atomic_init(&p->kill_ms, 0);
    atomic_init(&p->accepted, 0);
    atomic_init(&p->accepted_after, 0);
    atomic_init(&p->first_after_ms, 0);
    ck_assert(pthread_create(&thread, NULL, post_main, p) == 0);

    deadline = now_ms() + 15000;
    while (atomic_load(&p->accepted) < 20 && now_ms() < deadline)
        poll(NULL, 0, 10);
    ck_assert_int_ge(atomic_load(&p->accepted), 20);
    /* Killed while the poster is in full swing: some request is in flight. */
    kill(started[0], SIGKILL);
    waitpid(started[0], NULL, 0);
    started[0] = 0;
    atomic_store(&p->kill_ms, now_ms());

    deadline = now_ms() + RECOVER_MS + 5000;
    while (atomic_load(&p->accepted_after) < 10 && now_ms() < deadline)
        poll(NULL, 0, 20);
    atomic_store(&p->stop, true);
    pthread_join(thread, NULL);

    ck_assert_msg(atomic_load(&p->accepted_after) >= 10,
                  "only %d deliveries accepted after the kill (%d answered 503)",
                  atomic_load(&p->accepted_after), p->unavailable);
    ck_assert_msg(atomic_load(&p->first_after_ms) - atomic_load(&p->kill_ms) <= RECOVER_MS,
                  "first 202 %lld ms after the kill",
                  (long long)(atomic_load(&p->first_after_ms) - atomic_load(&p->kill_ms)));
    fprintf(stderr,
            "failover: %d accepted (%d as duplicates), %d answered 503, first 202 %lld ms after "
            "the kill\n",
            p->n, p->duplicates, p->unavailable,
            (long long)(atomic_load(&p->first_after_ms) - atomic_load(&p->kill_ms)));

    /* The replica is the primary now, and holds every job that was answered 202. */
    out = cli(replica, "ROLE");
    ck_assert_msg(strncmp(out, "master", 6) == 0, "replica not promoted: %s", out);
    free(out);
    for (int i = 0; i < p->n; i++) {
        char args[128];
        char *id;

        ck_assert(p->ok[i]);
        snprintf(args, sizeof(args), "GET '{zt}:delivery:fo-%d'", i);
        id = cli(replica, args);
        ck_assert_msg(id[0] >= '1' && id[0] <= '9', "delivery fo-%d (202) lost: %s", i, id);
        snprintf(args, sizeof(args), "HGET '{zt}:job:%s' state", id);
        out = cli(replica, args);
        ck_assert_msg(out[0] != '\0', "job %s of delivery fo-%d lost", id, i);
        free(out);
        free(id);
    }
    /* Still the first process: it followed the new primary without a restart. */
    ck_assert_int_eq(started[srv_slot], srv->pid);
    ts_proc_signal_wait(srv, SIGTERM);
    started[srv_slot] = 0;
    ts_proc_free(srv);
    kill_all();
    ts_rmtree(dir);
    free(dir);
    free(config);
    free(text);
    free(p);
}
END_TEST

Suite *suite_e2e_failover(void);
Suite *suite_e2e_failover(void)
{
    Suite *s = suite_create("e2e_failover");
    TCase *tc = tcase_create("sentinel");

    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, acknowledged_deliveries_survive_a_failover);
    suite_add_tcase(s, tc);
    return s;
}
