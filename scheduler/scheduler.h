/* scheduler: jobs and their life cycle, kept in Redis (the only shared state), so any
 * number of zoneci processes can serve one fleet. The store is thread-safe: it holds a
 * small pool of Redis connections and every call borrows one. Calls fail with
 * CORE_EUNAVAILABLE while Redis cannot be reached and reconnect by themselves.
 *
 * This header is an umbrella over the module's faces, one per subsystem; callers include
 * the face they use. */
#ifndef ZONECI_SCHEDULER_H
#define ZONECI_SCHEDULER_H

#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_approval.h"
#include "scheduler/sched_outbox.h"
#include "scheduler/sched_redelivery.h"
#include "scheduler/sched_retention.h"

#endif
