/* Job state names (docs/lifecycle.md): the one table that maps sched_state to the names
 * stored in Redis and shown by the API, and which states are final. */
#include "scheduler/sched_jobs.h"

#include <string.h>

static const char *const names[SCHED_STATE_COUNT] = {
#define X(id, name) [SCHED_STATE_##id] = name,
    SCHED_STATE_LIST
#undef X
};

const char *sched_state_name(sched_state state)
{
    CORE_ASSERT((unsigned)state < SCHED_STATE_COUNT);
    return names[state];
}

bool sched_state_parse(const char *name, sched_state *out)
{
    if (!name)
        return false;
    for (int i = 0; i < SCHED_STATE_COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (sched_state)i;
            return true;
        }
    }
    return false;
}

bool sched_state_valid(const char *name)
{
    sched_state s;

    return sched_state_parse(name, &s);
}

/* scheduler/scripts.c keeps the same list in Lua (FINAL); a test compares the two. */
bool sched_state_final(const char *name)
{
    sched_state s;

    if (!sched_state_parse(name, &s))
        return false;
    switch (s) {
    case SCHED_STATE_SUCCEEDED:
    case SCHED_STATE_FAILED:
    case SCHED_STATE_REJECTED:
    case SCHED_STATE_DEAD:
    case SCHED_STATE_SUPERSEDED:
    case SCHED_STATE_CANCELLED:
        return true;
    default:
        return false;
    }
}
