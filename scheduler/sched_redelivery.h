/* Delivery recovery's Redis side: the fleet-wide run lock, the high-water mark and the
 * GUIDs asked for. Tokens are written into caller-owned arrays. */
#ifndef ZONECI_SCHEDULER_SCHED_REDELIVERY_H
#define ZONECI_SCHEDULER_SCHED_REDELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* Defined by scheduler/sched_store.h (a C11 typedef may be repeated). */
typedef struct sched_store sched_store;

/* ---- delivery recovery (scheduler/redelivery.c) -----------------------------------------
 * GitHub does not retry a failed webhook delivery; zoneci lists the App's recent
 * deliveries and asks again for those it never accepted (notifier.h, notify_redeliver).
 * The Redis side: one run at a time across processes (a lock), the newest delivery a
 * complete run examined (the high-water mark), and each GUID asked for, once. Keys:
 * {P}:redelivery:lock, {P}:redelivery:mark, {P}:redelivery:asked:GUID. */
#define SCHED_DELIVERY_TTL_DEFAULT (3 * 24 * 3600) /* GitHub keeps deliveries 3 days */

typedef enum sched_redelivery_verdict {
    SCHED_REDELIVERY_ASK = 0,  /* never accepted nor asked for: now marked asked */
    SCHED_REDELIVERY_ACCEPTED, /* intake recorded the GUID: never ask */
    SCHED_REDELIVERY_ASKED,    /* asked for already (by this run or an earlier one) */
} sched_redelivery_verdict;

/* Takes the fleet-wide run lock for ttl_ms (SET NX PX) with a fresh random token:
 * *got false when another process holds it. CORE_EUNAVAILABLE while Redis is down. */
int sched_redelivery_lock(sched_store *store, int ttl_ms, char token[33], bool *got,
                          core_error *err);
/* Frees the lock if token still holds it (compare-and-delete); errors are ignored (the
 * lock expires). */
void sched_redelivery_unlock(sched_store *store, const char *token);
/* The high-water mark: the newest delivery id a complete run examined, 0 when none. */
int sched_redelivery_mark_get(sched_store *store, int64_t *id, core_error *err);
/* Raises the mark to id (never lowers it), atomically. */
int sched_redelivery_mark_set(sched_store *store, int64_t id, core_error *err);
/* In one atomic step: ACCEPTED when intake remembers guid, ASKED when it was asked for
 * already, else ASK, and guid is recorded as asked for (3 days). CORE_EINVAL for a GUID
 * that is not a delivery id (letters, digits, '-', '_', '.'; 1 to 128). */
int sched_redelivery_claim(sched_store *store, const char *guid, int64_t now_ms,
                           sched_redelivery_verdict *out, core_error *err);
/* Forgets that guid was asked for: GitHub refused the request, so a later run asks again. */
int sched_redelivery_unclaim(sched_store *store, const char *guid, core_error *err);

#endif
