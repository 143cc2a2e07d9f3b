/* Lua sources of the store's scripts. Each is LIBRARY followed by its body: the library
 * names every key from the prefix in ARGV[1] and holds the one function that moves a job
 * between states, so no script can forget the live key, the PR set or the audit entry.
 * Scripts validate before they write: Redis does not roll back a script that fails. */
#include "scheduler/scripts.h"

#include "core/core.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* FINAL must list the states sched_state_final() calls final (a test checks it). */
#define LIBRARY                                                                                    \
    "local P = ARGV[1]\n"                                                                      \
    "local AUDIT_MAXLEN = " STR(SCHED_AUDIT_MAXLEN) "\n"                                       \
    "local FINAL = {succeeded = true, failed = true, rejected = true, dead = true,\n"          \
    "               superseded = true, cancelled = true}\n"                                    \
    "local function job_key(id) return P .. 'job:' .. id end\n"                                \
    "local function history_key(id) return P .. 'job:' .. id .. ':history' end\n"             \
    "local function state_key(state) return P .. 'state:' .. state end\n"                     \
    "local function live_key(repo, pr, sha)\n"                                                 \
    "    return P .. 'live:' .. repo .. '#' .. pr .. '#' .. sha\n"                             \
    "end\n"                                                                                    \
    "local function pr_key(repo, pr) return P .. 'pr:' .. repo .. '#' .. pr end\n"            \
    "local function audit_key() return P .. 'audit' end\n"                                     \
    "local function queue_key(region) return P .. 'queue:' .. region end\n"                   \
    "local function deferred_key() return P .. 'deferred' end\n"                              \
    "local function routing_key() return P .. 'routing' end\n"                                \
    /* A key the client declared must be the one the library would build: this catches  */ \
    /* C and Lua drifting apart before anything is written. */                              \
    "local function check_key(got, want)\n"                                                    \
    "    if got ~= want then error('zoneci: key layout mismatch: ' .. tostring(got)) end\n"   \
    "end\n"                                                                                    \
    /* Moves job id to `to`: both state sets, reason and updated_at, a history entry, an */ \
    /* audit entry; on a final state it also drops the live key and the PR set entry.     */ \
    /* Returns the previous state, or false and why (missing job, or a final one: final  */ \
    /* jobs never move). A job being created has state '' and no state set yet. */          \
    "local function transition(id, to, actor, reason, now_ms, now_iso)\n"                     \
    "    local jk = job_key(id)\n"                                                             \
    "    local cur = redis.call('HMGET', jk, 'state', 'repo', 'pr', 'head_sha')\n"             \
    "    local from = cur[1]\n"                                                                \
    "    if not from then return false, 'missing' end\n"                                       \
    "    if FINAL[from] then return false, from end\n"                                         \
    "    if from ~= '' then redis.call('ZREM', state_key(from), id) end\n"                     \
    "    redis.call('ZADD', state_key(to), id, id)\n"                                          \
    "    redis.call('HSET', jk, 'state', to, 'reason', reason, 'updated_at', now_ms)\n"        \
    "    redis.call('RPUSH', history_key(id), cjson.encode({at = now_iso, state = to,\n"       \
    "                                                       actor = actor, reason = reason}))\n" \
    "    if FINAL[to] and cur[2] and cur[3] and cur[4] then\n"                                 \
    "        local lk = live_key(cur[2], cur[3], cur[4])\n"                                    \
    "        if redis.call('GET', lk) == id then redis.call('DEL', lk) end\n"                  \
    "        redis.call('SREM', pr_key(cur[2], cur[3]), id)\n"                                 \
    "    end\n"                                                                                \
    /* A final job waits nowhere: not in a region queue, deferred, or due for routing. */  \
    "    if FINAL[to] then\n"                                                                  \
    "        local region = redis.call('HGET', jk, 'region')\n"                                \
    "        if region and region ~= '' then redis.call('ZREM', queue_key(region), id) end\n"  \
    "        redis.call('ZREM', deferred_key(), id)\n"                                         \
    "        redis.call('SREM', routing_key(), id)\n"                                          \
    "    end\n"                                                                                \
    "    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,\n"       \
    "               'from', from, 'state', to, 'actor', actor, 'reason', reason,\n"            \
    "               'at', now_iso)\n"                                                          \
    "    return from\n"                                                                        \
    "end\n"                                                                                    \
    /* A history and audit entry without a change of state. */                              \
    "local function note(id, actor, reason, now_iso)\n"                                         \
    "    local state = redis.call('HGET', job_key(id), 'state') or ''\n"                       \
    "    redis.call('RPUSH', history_key(id), cjson.encode({at = now_iso, state = state,\n"    \
    "                                                       actor = actor, reason = reason}))\n" \
    "    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,\n"       \
    "               'from', state, 'state', state, 'actor', actor, 'reason', reason,\n"        \
    "               'at', now_iso)\n"                                                          \
    "end\n"                                                                                    \
    "local function str(v) if type(v) == 'string' then return v end return '' end\n"          \
    /* History as a flat list (at, state, actor, reason per entry) so that the client    */ \
    /* never parses JSON written by Lua; an entry that does not decode is shown whole as */ \
    /* its reason rather than hidden. */                                                    \
    "local function history_flat(id)\n"                                                        \
    "    local out = {}\n"                                                                     \
    "    for _, raw in ipairs(redis.call('LRANGE', history_key(id), 0, -1)) do\n"              \
    "        local ok, e = pcall(cjson.decode, raw)\n"                                         \
    "        if ok and type(e) == 'table' then\n"                                              \
    "            out[#out + 1] = str(e.at)\n"                                                  \
    "            out[#out + 1] = str(e.state)\n"                                               \
    "            out[#out + 1] = str(e.actor)\n"                                               \
    "            out[#out + 1] = str(e.reason)\n"                                              \
    "        else\n"                                                                           \
    "            out[#out + 1] = ''\n"                                                         \
    "            out[#out + 1] = ''\n"                                                         \
    "            out[#out + 1] = ''\n"                                                         \
    "            out[#out + 1] = raw\n"                                                        \
    "        end\n"                                                                            \
    "    end\n"                                                                                \
    "    return out\n"                                                                         \
    "end\n"

/* KEYS: delivery, seq, jobs, live, pr set, audit.
 * ARGV: P, dedup ttl, now_ms, now_iso, reason, then the job's field/value pairs (repo,
 * pr, head_sha, ... delivery). Returns {outcome, job id, superseded id, superseded n}. */
static const char intake_src[] =
    LIBRARY "local ttl, now_ms, now_iso, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
            "local f = {}\n"
            "for i = 6, #ARGV - 1, 2 do f[ARGV[i]] = ARGV[i + 1] end\n"
            "check_key(KEYS[4], live_key(f.repo, f.pr, f.head_sha))\n"
            "check_key(KEYS[5], pr_key(f.repo, f.pr))\n"
            "check_key(KEYS[6], audit_key())\n"
            "local seen = redis.call('GET', KEYS[1])\n"
            "if seen then return {'duplicate', seen, '', 0} end\n"
            "local live = redis.call('GET', KEYS[4])\n"
            /* A live key always names a non-final job; the check only guards against  */
            /* keys left by hand or by an older version. */
            "if live then\n"
            "    local st = redis.call('HGET', job_key(live), 'state')\n"
            "    if st and not FINAL[st] then\n"
            "        redis.call('SET', KEYS[1], live, 'EX', ttl)\n"
            "        return {'live', live, '', 0}\n"
            "    end\n"
            "end\n"
            "local id = string.format('%d', redis.call('INCR', KEYS[2]))\n"
            "redis.call('HSET', job_key(id), 'id', id, 'state', '', 'region', '',\n"
            "           'attempts', '0', 'created_at', now_ms, 'updated_at', now_ms)\n"
            "redis.call('HSET', job_key(id), unpack(ARGV, 6))\n"
            "redis.call('ZADD', KEYS[3], id, id)\n"
            "redis.call('SET', KEYS[4], id)\n"
            "redis.call('SADD', KEYS[5], id)\n"
            "transition(id, 'received', 'github', reason, now_ms, now_iso)\n"
            "local why = 'superseded by job ' .. id .. ' (head ' .. string.sub(f.head_sha, 1, 7)"
            " .. ')'\n"
            "local superseded, n = '', 0\n"
            "for _, other in ipairs(redis.call('SMEMBERS', KEYS[5])) do\n"
            "    if other ~= id then\n"
            "        if transition(other, 'superseded', 'github', why, now_ms, now_iso) then\n"
            "            n = n + 1\n"
            "            if superseded == '' or tonumber(other) > tonumber(superseded) then\n"
            "                superseded = other\n"
            "            end\n"
            "        else\n"
            "            redis.call('SREM', KEYS[5], other)\n"
            "        end\n"
            "    end\n"
            "end\n"
            "redis.call('SET', KEYS[1], id, 'EX', ttl)\n"
            "return {'created', id, superseded, n}\n";

/* KEYS: delivery, pr set, audit. ARGV: P, dedup ttl, now_ms, now_iso, repo, pr.
 * Returns {outcome, stored job id, cancelled n}. */
static const char close_src[] =
    LIBRARY "check_key(KEYS[2], pr_key(ARGV[5], ARGV[6]))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local seen = redis.call('GET', KEYS[1])\n"
            "if seen then return {'duplicate', seen, 0} end\n"
            "local n = 0\n"
            "for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
            "    if transition(id, 'cancelled', 'github', 'pull request closed', ARGV[3],\n"
            "                  ARGV[4]) then\n"
            "        n = n + 1\n"
            "    else\n"
            "        redis.call('SREM', KEYS[2], id)\n"
            "    end\n"
            "end\n"
            "redis.call('SET', KEYS[1], '-', 'EX', ARGV[2])\n"
            "return {'closed', '', n}\n";

/* KEYS: job, history, audit. ARGV: P, id, expected state or '', to, actor, reason,
 * now_ms, now_iso. Returns {'ok'|'missing'|'conflict', state before}. */
static const char transition_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local cur = redis.call('HGET', KEYS[1], 'state')\n"
            "if not cur then return {'missing', ''} end\n"
            "if (ARGV[3] ~= '' and cur ~= ARGV[3]) or FINAL[cur] then\n"
            "    return {'conflict', cur}\n"
            "end\n"
            "transition(id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])\n"
            "return {'ok', cur}\n";

/* KEYS: job, history. ARGV: P, id. Returns nil or {hash as a flat list, history}. */
static const char job_get_src[] = LIBRARY "check_key(KEYS[1], job_key(ARGV[2]))\n"
                                          "check_key(KEYS[2], history_key(ARGV[2]))\n"
                                          "local h = redis.call('HGETALL', KEYS[1])\n"
                                          "if #h == 0 then return false end\n"
                                          "return {h, history_flat(ARGV[2])}\n";

/* KEYS: an index sorted set ({P}:jobs or {P}:state:NAME, score = id). ARGV: P, max score
 * ('+inf' or '(ID'), limit. Fetches one id more than the page to learn whether another
 * page follows. Returns {next cursor or nil, {{hash, history}, ...}}. */
static const char job_list_src[] =
    LIBRARY "local limit = tonumber(ARGV[3])\n"
            "local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], '-inf', 'LIMIT', 0,\n"
            "                       limit + 1)\n"
            "local jobs, next_cursor = {}, false\n"
            "for i, id in ipairs(ids) do\n"
            "    if i > limit then\n"
            "        next_cursor = ids[limit]\n"
            "        break\n"
            "    end\n"
            "    local h = redis.call('HGETALL', job_key(id))\n"
            "    if #h > 0 then jobs[#jobs + 1] = {h, history_flat(id)} end\n"
            "end\n"
            "return {next_cursor, jobs}\n";

/* KEYS: job, history, audit. ARGV: P, id, expected state, expected region ('*' for any),
 * 'queue'|'defer', region, release_at_ms, reason, now_ms, now_iso, '1' when the job must
 * be due for routing (a released deferral). Moves the job out of wherever it waits (a
 * region queue, the deferred set, the routing set) into its new place, atomically and
 * only if it is still where the caller saw it. Returns {'ok'|'missing'|'conflict', state}. */
static const char route_apply_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local cur = redis.call('HMGET', KEYS[1], 'state', 'region')\n"
            "if not cur[1] then return {'missing', ''} end\n"
            "local region = cur[2] or ''\n"
            "if cur[1] ~= ARGV[3] or (ARGV[4] ~= '*' and region ~= ARGV[4]) then\n"
            "    return {'conflict', cur[1]}\n"
            "end\n"
            "if ARGV[11] == '1' and redis.call('SISMEMBER', routing_key(), id) == 0 then\n"
            "    return {'conflict', cur[1]}\n"
            "end\n"
            "if region ~= '' then redis.call('ZREM', queue_key(region), id) end\n"
            "redis.call('ZREM', deferred_key(), id)\n"
            "redis.call('SREM', routing_key(), id)\n"
            "if ARGV[5] == 'queue' then\n"
            "    redis.call('HSET', KEYS[1], 'region', ARGV[6], 'deferred_until', '')\n"
            "    redis.call('ZADD', queue_key(ARGV[6]), id, id)\n"
            "    transition(id, 'queued', 'scheduler', ARGV[8], ARGV[9], ARGV[10])\n"
            "else\n"
            "    redis.call('HSET', KEYS[1], 'region', '', 'deferred_until', ARGV[7])\n"
            "    redis.call('ZADD', deferred_key(), ARGV[7], id)\n"
            "    transition(id, 'deferred', 'scheduler', ARGV[8], ARGV[9], ARGV[10])\n"
            "end\n"
            "return {'ok', cur[1]}\n";

/* KEYS: deferred, routing, audit. ARGV: P, now_ms, now_iso, limit. Moves deferrals that
 * are due into the routing set. ZREM succeeds for one caller only, so however many
 * processes race, each job is released once. Returns the released ids. */
static const char promote_src[] =
    LIBRARY "check_key(KEYS[1], deferred_key())\n"
            "check_key(KEYS[2], routing_key())\n"
            "check_key(KEYS[3], audit_key())\n"
            "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0,\n"
            "                       tonumber(ARGV[4]))\n"
            "for _, id in ipairs(ids) do\n"
            "    redis.call('ZREM', KEYS[1], id)\n"
            "    redis.call('SADD', KEYS[2], id)\n"
            "    note(id, 'scheduler', 'released for routing: deferral ended', ARGV[3])\n"
            "end\n"
            "return ids\n";

static const char *const sources[SCHED_SCRIPT_COUNT] = {
    [SCHED_SCRIPT_INTAKE] = intake_src,         [SCHED_SCRIPT_CLOSE] = close_src,
    [SCHED_SCRIPT_TRANSITION] = transition_src, [SCHED_SCRIPT_JOB_GET] = job_get_src,
    [SCHED_SCRIPT_JOB_LIST] = job_list_src,     [SCHED_SCRIPT_ROUTE_APPLY] = route_apply_src,
    [SCHED_SCRIPT_PROMOTE] = promote_src,
};

static const char *const names[SCHED_SCRIPT_COUNT] = {
    [SCHED_SCRIPT_INTAKE] = "intake",         [SCHED_SCRIPT_CLOSE] = "close",
    [SCHED_SCRIPT_TRANSITION] = "transition", [SCHED_SCRIPT_JOB_GET] = "job_get",
    [SCHED_SCRIPT_JOB_LIST] = "job_list",     [SCHED_SCRIPT_ROUTE_APPLY] = "route_apply",
    [SCHED_SCRIPT_PROMOTE] = "promote",
};

const char *sched_script_source(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    return sources[script];
}

const char *sched_script_name(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    return names[script];
}
