/* The Redis store handle every other scheduler face takes: its options, creation and
 * readiness. Owns its connection pool; sched_store_free releases it. */
#ifndef ZONECI_SCHEDULER_SCHED_STORE_H
#define ZONECI_SCHEDULER_SCHED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct sched_store sched_store;

/* Redis Sentinel: the primary is asked for, never configured, so a failover is followed. */
typedef struct sched_store_sentinel {
    const char *master;            /* the name the sentinels monitor the primary under */
    const char *const *nodes;      /* "host:port" or "[v6]:port" of each sentinel */
    size_t n_nodes;                /* 1 to 16 */
    const char *username;          /* the primary's ACL user, or NULL */
    const char *password;          /* the primary's password, or NULL: no AUTH */
    const char *sentinel_password; /* the sentinels' own password, or NULL: no AUTH */
    int db;                        /* SELECTed on the primary when not 0 */
} sched_store_sentinel;

typedef struct sched_store_options {
    /* Exactly one of url and sentinel. */
    const char *url; /* redis://[:password@]host:port[/db], unix:///abs/path, unix://rel/path */
    const sched_store_sentinel *sentinel; /* copied */
    const char *prefix;     /* every key starts with "{prefix}:" (one Redis Cluster hash slot) */
    size_t pool_size;       /* connections; at least 1 */
    int connect_timeout_ms; /* default 1000 when 0 */
    int command_timeout_ms; /* default 2000 when 0 */
    int dedup_ttl_seconds;  /* how long a delivery id and an outbox dedup key are
                             * remembered; default 3 days for delivery ids (delivery
                             * recovery looks that far back), 86400 for the outbox */
    /* After an acknowledged write (sched_store_eval_acked), when the primary has replicas,
     * WAIT this long for one of them to hold it; 0 never waits. */
    int wait_replica_ms;
} sched_store_options;

/* Creates a store; it connects lazily, so this succeeds while Redis is down (readiness is
 * sched_store_ping). The options' strings are copied. */
int sched_store_new(sched_store **out, const sched_store_options *opts, core_error *err);
void sched_store_free(sched_store *store);
/* PING over a pooled connection: 0 when Redis answers. */
int sched_store_ping(sched_store *store, core_error *err);
/* Number of Redis errors (connection or command) seen since start, for /metrics. */
uint64_t sched_store_error_count(const sched_store *store);

#endif
