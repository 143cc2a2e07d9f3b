/* Read-only figures about a region for the status page (webhooks/page.c): how deep its
 * queue is, since when its oldest queued job waits, and how many runners polled it lately.
 * Nothing here writes. */
#ifndef ZONECI_SCHEDULER_SCHED_OVERVIEW_H
#define ZONECI_SCHEDULER_SCHED_OVERVIEW_H

#include <stdint.h>

#include "core/core.h"

struct sched_store;

typedef struct sched_region_overview {
    int64_t depth;        /* jobs in the region's queue */
    int64_t oldest_since; /* ms: when the oldest queued job was last moved; 0 when empty */
    int64_t idle_tokens;  /* runner tokens that polled the region since now - 60 s */
} sched_region_overview;

/* The figures for region at now_ms: four small reads (ZCARD, ZRANGE, HGET, ZCOUNT), not
 * one atomic step; the figures may be a few ms apart, which a page refreshed every few
 * seconds does not mind. CORE_EUNAVAILABLE when Redis is down. Thread-safe. */
int sched_region_overview_get(struct sched_store *store, const char *region, int64_t now_ms,
                              sched_region_overview *out, core_error *err);

#endif
