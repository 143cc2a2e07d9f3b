/* The outbox: every outbound message as a Redis record, leased to one delivery worker at
 * a time. A taken sched_outbox_msg owns its payload (sched_outbox_msg_free). */
#ifndef ZONECI_SCHEDULER_SCHED_OUTBOX_H
#define ZONECI_SCHEDULER_SCHED_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Defined by scheduler/sched_store.h (a C11 typedef may be repeated). */
typedef struct sched_store sched_store;

/* ---- the outbox (scheduler/outbox.c) -----------------------------------------------------
 * Every outbound message (a Slack post or update, a GitHub status) is first a record in
 * Redis, delivered by workers in any zoneci process (notifier/outbox.c). A message is the
 * hash `{P}:outbox:ID` (kind, payload, attempts, created_at, last_error, state
 * pending|done|dead, token); `{P}:outbox:due` (score = next attempt) holds the pending
 * ones, `{P}:outbox:dead` (score = when) the dead-lettered ones. Every step is a Lua
 * script: a message is leased to one worker at a time and marked done at most once.
 * Messages the scripts put with an order key (the commit statuses of one commit, the
 * cards of one job) are delivered one at a time, oldest first: `{P}:outbox:order:KEY`
 * lists them, and only its head can be taken until it is done or dead. */
#define SCHED_OUTBOX_KIND_MAX 32
#define SCHED_OUTBOX_PAYLOAD_MAX (256u * 1024) /* bytes of a message's JSON payload */
#define SCHED_OUTBOX_DEDUP_MAX 256             /* bytes of a dedup key */
#define SCHED_OUTBOX_ERROR_MAX 256             /* bytes of last_error kept */
#define SCHED_OUTBOX_BACKOFF_BASE_MS 1000
#define SCHED_OUTBOX_BACKOFF_CAP_MS 300000

/* A leased message. payload is malloc'd: sched_outbox_msg_free releases it. */
typedef struct sched_outbox_msg {
    bool found; /* false: nothing was due */
    char id[32];
    char kind[SCHED_OUTBOX_KIND_MAX];
    char *payload;
    int attempts; /* this one included */
    int64_t created_at;
    char token[33]; /* the lease: pass it to done or fail */
} sched_outbox_msg;

void sched_outbox_msg_free(sched_outbox_msg *msg);

/* Records a message of kind ([a-z_], e.g. "github_status", "slack_post", "slack_update")
 * with its JSON payload (copied; at most SCHED_OUTBOX_PAYLOAD_MAX bytes), due at now_ms.
 * dedup_key (NULL for none) names the message: while it is remembered (the store's dedup
 * ttl) a second put with it records nothing and answers the first message's id. id_out
 * receives the id. CORE_EINVAL for a bad kind or an empty dedup key, CORE_ETOOBIG over
 * the caps, and the store's errors. Thread-safe. */
int sched_outbox_put(sched_store *store, const char *kind, const char *payload_json,
                     const char *dedup_key, int64_t now_ms, char id_out[32], core_error *err);

/* Takes the message due first at now_ms and leases it for lease_ms (> 0): it is due again
 * at now + lease_ms unless done or failed before, so a crashed worker's message comes
 * back. attempts counts this take. out->found is false when nothing is due. The caller
 * frees out with sched_outbox_msg_free. Thread-safe. */
int sched_outbox_take(sched_store *store, int64_t now_ms, int64_t lease_ms, sched_outbox_msg *out,
                      core_error *err);

/* Marks message id done if token is still its lease (compare-and-set), so two workers
 * racing on one message mark it done once. result (NULL for none; e.g. a Slack ts) is
 * kept in the record, which expires after the store's dedup ttl. The same token asking
 * again succeeds again. CORE_ECONFLICT when another lease holds it (or it is dead),
 * CORE_ENOTFOUND for an unknown id. */
int sched_outbox_done(sched_store *store, const char *id, const char *token, int64_t now_ms,
                      core_error *err);
int sched_outbox_done_result(sched_store *store, const char *id, const char *token,
                             const char *result, int64_t now_ms, core_error *err);

/* A failed delivery under lease token: the message is due again at retry_at_ms, or, when
 * its attempts have reached max_attempts (0: never), dead-lettered (*dead set; NULL
 * allowed). error_text (cut to SCHED_OUTBOX_ERROR_MAX) becomes last_error. CORE_ECONFLICT
 * when token is not the current lease, CORE_ENOTFOUND for an unknown id. */
int sched_outbox_fail(sched_store *store, const char *id, const char *token, const char *error_text,
                      int64_t retry_at_ms, int max_attempts, int64_t now_ms, bool *dead,
                      core_error *err);

/* Appends {"dead":[{"id","kind","attempts","created_at","dead_at","last_error",
 * "payload"},...]} to json_out: the newest limit (1..1000) dead messages. payload is the
 * stored JSON, embedded as it is. */
int sched_outbox_dead_list(sched_store *store, size_t limit, core_buf *json_out, core_error *err);

/* Messages pending (leased ones included) and dead, for /metrics. */
int sched_outbox_counts(sched_store *store, int64_t *pending, int64_t *dead, core_error *err);

/* The delay before attempt + 1 after attempt (1-based) failed: full jitter, uniform in
 * [0, min(SCHED_OUTBOX_BACKOFF_CAP_MS, SCHED_OUTBOX_BACKOFF_BASE_MS * 2^(attempt-1))],
 * from the caller's seed (advanced). Pure; any thread with its own seed. */
int64_t sched_outbox_backoff_ms(int attempt, unsigned *seed);
/* The backoff, or retry_after_s seconds (a peer's Retry-After) when that is longer. */
int64_t sched_outbox_delay_ms(int attempt, int retry_after_s, unsigned *seed);

#endif
