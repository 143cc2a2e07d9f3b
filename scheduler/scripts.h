/* The store's Lua scripts (private to scheduler/). Each script is one atomic step on the
 * job keys; store.c loads them as one function library and runs them with FCALL, loading
 * the library again when a server does not know it. The sources are scheduler/lua/NAME.lua,
 * embedded at build time: library.lua (key names, the transition helper) comes first, so
 * the key layout and the rules for moving a job between states are written once, in Lua. */
#ifndef ZONECI_SCHEDULER_SCRIPTS_H
#define ZONECI_SCHEDULER_SCRIPTS_H

/* Entries of the audit stream kept (XADD MAXLEN ~): AUDIT_MAXLEN in lua/library.lua, which
 * the scripts use; a test checks that the two agree. */
#define SCHED_AUDIT_MAXLEN 100000

/* To add a script: a constant here, its source in lua/NAME.lua and the pair in scripts.c's
 * tables. ARGV[1] is always the key prefix "{P}:" (the library builds job keys from it). */
typedef enum sched_script {
    SCHED_SCRIPT_INTAKE = 0,       /* pull_request delivery: dedup, create, supersede */
    SCHED_SCRIPT_CLOSE,            /* closed PR: dedup, cancel the PR's live jobs */
    SCHED_SCRIPT_TRANSITION,       /* one job to another state, optionally from an expected one */
    SCHED_SCRIPT_JOB_GET,          /* read-only: a job's hash and decoded history */
    SCHED_SCRIPT_JOB_LIST,         /* read-only: a page of jobs from an index set, newest first */
    SCHED_SCRIPT_ROUTE_APPLY,      /* a routing decision: queue in a region or defer, CAS */
    SCHED_SCRIPT_PROMOTE,          /* due deferrals into the routing set, each exactly once */
    SCHED_SCRIPT_CLAIM,            /* a runner takes a job: queue -> lease, locks, fencing token */
    SCHED_SCRIPT_HEARTBEAT,        /* extend a lease and its locks, or say cancel / lost */
    SCHED_SCRIPT_COMPLETE,         /* end a leased job once */
    SCHED_SCRIPT_REAP,             /* expired leases back to their queue, or dead */
    SCHED_SCRIPT_INSPECT_CLAIM,    /* a job to inspect: a due retry, else the oldest received */
    SCHED_SCRIPT_INSPECT_DONE,     /* end an inspection: route, await approval, or retry */
    SCHED_SCRIPT_UNLOCK,           /* compare-and-delete of a lock */
    SCHED_SCRIPT_DECIDE,           /* a human approves or rejects a job, first decision wins */
    SCHED_SCRIPT_OUTBOX_PUT,       /* record an outbound message, deduplicated */
    SCHED_SCRIPT_OUTBOX_TAKE,      /* lease the message due first */
    SCHED_SCRIPT_OUTBOX_DONE,      /* mark a message done, CAS on its lease token */
    SCHED_SCRIPT_OUTBOX_FAIL,      /* reschedule or dead-letter a message, CAS */
    SCHED_SCRIPT_ESCALATE,         /* an undecided job's next approval card, CAS on its count */
    SCHED_SCRIPT_CARD_POSTED,      /* where an approval card was posted, once */
    SCHED_SCRIPT_REDELIVERY_CLAIM, /* a missed delivery: accepted, asked, or ask now */
    SCHED_SCRIPT_REDELIVERY_MARK,  /* raise the high-water mark of delivery recovery */
    SCHED_SCRIPT_RELEASE,          /* an unused lease gives its job back, attempt not counted */
    SCHED_SCRIPT_IDLE_COUNT,       /* read-only: recent idle runners of a region with labels */
    SCHED_SCRIPT_RETENTION_PURGE,  /* delete jobs finished before the horizon, with indexes */
    SCHED_SCRIPT_RETENTION_BACKFILL, /* index jobs that finished before `finished` existed */
    SCHED_SCRIPT_RETENTION_DEAD,     /* drop old outbox dead letters */
    SCHED_SCRIPT_RETENTION_SWEEP,    /* one SCAN step: drop set entries whose job is gone */
    SCHED_SCRIPT_METRICS,            /* read-only: the gauges and counters /metrics shows */
    SCHED_SCRIPT_PR_JOB,             /* read-only: a pull request's newest job */
    SCHED_SCRIPT_CHECK_RUN,          /* a job's check run id and annotations sent */
    SCHED_SCRIPT_COUNT
} sched_script;

/* Every script as one Redis function library ("#!lua name=zoneci_HASH"), for FUNCTION
 * LOAD; built once, a static string. */
const char *sched_script_library(void);
/* The name FCALL knows the script by in that library ("zoneci_HASH_intake"); static. */
const char *sched_script_function(sched_script script);
/* A short name for logs ("intake", ...). */
const char *sched_script_name(sched_script script);

#endif
