/* Lua sources of the store's scripts. Each is LIBRARY followed by its body: the library
 * names every key from the prefix in ARGV[1] and holds the one function that moves a job
 * between states, so no script can forget the live key, the PR set or the audit entry.
 * Scripts validate before they write: Redis does not roll back a script that fails. */
#include "scheduler/scripts.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* ARGV[1] of every call; a function sets it first (see sched_script_library). */
#define LIBRARY_HEAD "local P = ARGV[1]\n"
/* FINAL must list the states sched_state_final() calls final (a test checks it). */
#define LIBRARY                                                                                    \
    LIBRARY_HEAD                                                                               \
    "local AUDIT_MAXLEN = " STR(SCHED_AUDIT_MAXLEN) "\n"                                       \
    "local FINAL = {succeeded = true, failed = true, rejected = true, dead = true,\n"          \
    "               superseded = true, cancelled = true}\n"                                    \
    "local function str(v) if type(v) == 'string' then return v end return '' end\n"          \
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
    "local function leases_key() return P .. 'leases' end\n"                                  \
    "local function idle_key(region) return P .. 'idle:' .. region end\n"                     \
    "local function ready_channel() return P .. 'ready' end\n"                                \
    "local function pr_lock_key(repo, pr) return P .. 'lock:pr:' .. repo .. '#' .. pr end\n"  \
    "local function migration_lock_key(repo) return P .. 'lock:migration:' .. repo end\n"    \
    /* Build locks hold "JOB:LEASE"; release and extend only when that is still the value */ \
    /* (compare-and-delete / compare-and-extend), so a stale holder can never free or   */ \
    /* prolong a lock someone else now holds. */                                            \
    "local function job_locks(id)\n"                                                           \
    "    local f = redis.call('HMGET', job_key(id), 'repo', 'pr', 'migration')\n"              \
    "    if not f[1] then return {} end\n"                                                     \
    "    local keys = {pr_lock_key(f[1], f[2])}\n"                                             \
    "    if f[3] == '1' then keys[2] = migration_lock_key(f[1]) end\n"                         \
    "    return keys\n"                                                                        \
    "end\n"                                                                                    \
    "local function release_locks(id, lease)\n"                                                \
    "    for _, k in ipairs(job_locks(id)) do\n"                                               \
    "        if redis.call('GET', k) == id .. ':' .. lease then redis.call('DEL', k) end\n"    \
    "    end\n"                                                                                \
    "end\n"                                                                                    \
    /* A lease ends: its locks are freed and the runners of the region hear of it (a job */ \
    /* kept waiting by those locks may be claimable now). */                                \
    "local function end_lease(id, lease)\n"                                                    \
    "    release_locks(id, lease)\n"                                                           \
    "    redis.call('ZREM', leases_key(), id)\n"                                               \
    "    local region = redis.call('HGET', job_key(id), 'region')\n"                           \
    "    if region and region ~= '' then redis.call('PUBLISH', ready_channel(), region) end\n" \
    "end\n"                                                                                    \
    "local function extend_locks(id, lease, ms)\n"                                             \
    "    for _, k in ipairs(job_locks(id)) do\n"                                               \
    "        if redis.call('GET', k) == id .. ':' .. lease then\n"                             \
    "            redis.call('PEXPIRE', k, ms)\n"                                               \
    "        end\n"                                                                            \
    "    end\n"                                                                                \
    "end\n"                                                                                    \
    /* A key the client declared must be the one the library would build: this catches  */ \
    /* C and Lua drifting apart before anything is written. */                              \
    "local function check_key(got, want)\n"                                                    \
    "    if got ~= want then error('zoneci: key layout mismatch: ' .. tostring(got)) end\n"   \
    "end\n"                                                                                    \
    /* An outbound message, due now (scheduler.h, the outbox). Messages with the same   */ \
    /* order key go out one after the other, oldest first: `outbox:order:KEY` lists the  */ \
    /* pending ones, and only its head may be taken (a later status must not land first */ \
    /* and be overwritten by an older one). */                                               \
    "local function order_key(o) return P .. 'outbox:order:' .. o end\n"                     \
    "local function outbox_add(kind, payload, now_ms, order)\n"                               \
    "    local oid = tostring(redis.call('INCR', P .. 'outbox:seq'))\n"                        \
    "    redis.call('HSET', P .. 'outbox:' .. oid, 'kind', kind, 'payload', payload,\n"       \
    "               'attempts', 0, 'created_at', now_ms, 'last_error', '',\n"                 \
    "               'state', 'pending', 'token', '', 'order', order or '')\n"                 \
    "    if order and order ~= '' then redis.call('RPUSH', order_key(order), oid) end\n"      \
    "    redis.call('ZADD', P .. 'outbox:due', now_ms, oid)\n"                                 \
    "    return oid\n"                                                                         \
    "end\n"                                                                                    \
    "local function order_release(hk, oid)\n"                                                  \
    "    local o = redis.call('HGET', hk, 'order')\n"                                          \
    "    if o and o ~= '' then redis.call('LREM', order_key(o), 1, oid) end\n"                 \
    "end\n"                                                                                    \
    /* Every change of state of a job that came through a GitHub App installation puts a */ \
    /* commit status in the outbox, in the same atomic step: a status is never lost and   */ \
    /* never sent for a change that did not happen. The routers keep config:statuses set */ \
    /* to whether the App is configured. The words say where the job is and why. */ \
    "local GH_STATE = {succeeded = 'success', failed = 'failure', rejected = 'failure',\n" \
    "                  dead = 'error', superseded = 'error', cancelled = 'error'}\n" \
    "local function status_words(id, to, reason)\n" \
    "    local f = redis.call('HMGET', job_key(id), 'runner', 'region', 'approval_region',\n" \
    "                         'approval_oncall')\n" \
    "    if to == 'awaiting_approval' and f[3] and f[3] ~= '' then\n" \
    "        local s = 'Awaiting approval in ' .. f[3]\n" \
    "        if f[4] and f[4] ~= '' then s = s .. ' (on call: ' .. f[4] .. ')' end\n" \
    "        return s\n" \
    "    elseif to == 'leased' then return 'Running on ' .. str(f[1]) .. ' in ' .. str(f[2])\n" \
    "    elseif to == 'succeeded' then return 'Succeeded on ' .. str(f[1])\n" \
    "    elseif to == 'failed' then return 'Failed on ' .. str(f[1])\n" \
    "    end\n" \
    "    return (string.gsub(reason, '^%l', string.upper))\n" \
    "end\n" \
    "local function status_put(id, to, reason, now_ms, now_iso)\n" \
    "    if redis.call('GET', P .. 'config:statuses') ~= '1' then return end\n" \
    "    local f = redis.call('HMGET', job_key(id), 'installation_id', 'repo', 'head_sha')\n" \
    "    if not f[1] or f[1] == '' or f[1] == '0' or not f[2] or not f[3] then return end\n" \
    "    local url = redis.call('GET', P .. 'config:public_url') or ''\n" \
    "    local msg = {installation_id = tonumber(f[1]), repo = f[2], sha = f[3],\n" \
    "                 state = GH_STATE[to] or 'pending', description = status_words(id, to, reason)}\n" \
    "    if url ~= '' then msg.target_url = url .. '/api/v1/jobs/' .. id end\n" \
    "    outbox_add('github_status', cjson.encode(msg), now_ms,\n"                             \
    "               'gh:' .. f[2] .. '@' .. f[3])\n"                                           \
    "    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,\n" \
    "               'event', 'status', 'state', msg.state, 'reason', msg.description,\n" \
    "               'at', now_iso)\n" \
    "end\n" \
    /* Approval cards (scheduler/approval.c). Card N of a job lives in the job's hash as   */ \
    /* card:N:region|channel|mentions|at|ts; `cards` counts them. A card is posted by the */ \
    /* outbox (slack_card, rendered from the job when delivered); slack_card_update       */ \
    /* re-renders the first `cards` cards, so they show the job's latest word.           */ \
    "local function card_put(id, c, now_ms)\n" \
    "    local jk = job_key(id)\n" \
    "    local n = redis.call('HINCRBY', jk, 'cards', 1) - 1\n" \
    "    local k = 'card:' .. n .. ':'\n" \
    "    redis.call('HSET', jk, k .. 'region', c.region, k .. 'channel', c.channel or '',\n" \
    "               k .. 'mentions', c.mentions or '', k .. 'at', now_ms,\n" \
    "               'approval_region', c.region, 'approval_oncall', c.oncall or '')\n" \
    "    if c.plan and c.plan ~= '' then redis.call('HSET', jk, 'approval_plan', c.plan) end\n" \
    "    if c.channel and c.channel ~= '' then\n" \
    "        outbox_add('slack_card', cjson.encode({job_id = id, card = n}), now_ms,\n"          \
    "                   'card:' .. id)\n"                                                       \
    "    end\n" \
    "    if c.escalate_at and c.escalate_at > 0 then\n" \
    "        redis.call('ZADD', P .. 'escalate', c.escalate_at, id)\n" \
    "    else\n" \
    "        redis.call('ZREM', P .. 'escalate', id)\n" \
    "    end\n" \
    "    return n\n" \
    "end\n" \
    "local function cards_update(id, n, now_ms)\n" \
    "    if n > 0 then\n" \
    "        outbox_add('slack_card_update', cjson.encode({job_id = id, cards = n}), now_ms,\n" \
    "                   'card:' .. id)\n" \
    "    end\n" \
    "end\n" \
    /* Moves job id to `to`: both state sets, reason and updated_at, a history entry, an */ \
    /* audit entry and a commit status (unless quiet: a later step of the same script   */ \
    /* puts the newer one); on a final state it also drops the live key and the PR set  */ \
    /* entry. Returns the previous state, or false and why (missing job, or a final one: */ \
    /* final jobs never move). A job being created has state '' and no state set yet.   */ \
    "local function transition(id, to, actor, reason, now_ms, now_iso, quiet)\n"              \
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
    /* A final job waits nowhere: not in a region queue, deferred, or due for routing; */ \
    /* `finished` (score = when) is what retention deletes it by (retention.c). */          \
    "    if FINAL[to] then\n"                                                                  \
    "        redis.call('ZADD', P .. 'finished', now_ms, id)\n"                                \
    "        local region = redis.call('HGET', jk, 'region')\n"                                \
    "        if region and region ~= '' then redis.call('ZREM', queue_key(region), id) end\n"  \
    "        redis.call('ZREM', deferred_key(), id)\n"                                         \
    "        redis.call('SREM', routing_key(), id)\n"                                          \
    "    end\n"                                                                                \
    "    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,\n"       \
    "               'from', from, 'state', to, 'actor', actor, 'reason', reason,\n"            \
    "               'at', now_iso)\n"                                                          \
    "    if from == 'awaiting_approval' then\n"                                             \
    "        redis.call('ZREM', P .. 'escalate', id)\n"                                         \
    /* superseded or cancelled undecided: its cards lose their buttons */                    \
    "        if FINAL[to] and to ~= 'rejected' then\n"                                         \
    "            cards_update(id, tonumber(redis.call('HGET', jk, 'cards') or '0'), now_ms)\n" \
    "        end\n"                                                                           \
    "    end\n"                                                                               \
    "    if not quiet then status_put(id, to, reason, now_ms, now_iso) end\n"                 \
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
    /* A routing decision made in C, as one string: "queue|defer TAB region TAB release_ms */ \
    /* TAB labels TAB reason". Parsed before anything is written. */                       \
    "local function route_parse(s)\n"                                                       \
    "    local kind, region, release, labels, why =\n"                                      \
    "        string.match(s, '^(%a+)\\t([^\\t]*)\\t(%d+)\\t([^\\t]*)\\t(.*)$')\n"        \
    "    if kind ~= 'queue' and kind ~= 'defer' then\n"                                     \
    "        error('zoneci: malformed routing decision')\n"                                 \
    "    end\n"                                                                           \
    "    return {kind = kind, region = region, release = release, labels = labels, why = why}\n" \
    "end\n"                                                                               \
    /* A routing decision applied: into a region's queue (runners of the region hear of */ \
    /* it) or deferred until release. The caller has taken the job out of wherever it   */ \
    /* waited and checked it is still where it saw it. */                                \
    "local function route_to(id, d, now_ms, now_iso)\n"                                     \
    "    local jk = job_key(id)\n"                                                         \
    "    if d.kind == 'queue' then\n"                                                     \
    "        redis.call('HSET', jk, 'region', d.region, 'deferred_until', '',\n"             \
    "                   'labels', d.labels)\n"                                              \
    "        redis.call('ZADD', queue_key(d.region), id, id)\n"                             \
    "        transition(id, 'queued', 'scheduler', d.why, now_ms, now_iso)\n"               \
    "        redis.call('PUBLISH', ready_channel(), d.region)\n"                            \
    "        return 'queued'\n"                                                           \
    "    end\n"                                                                           \
    "    redis.call('HSET', jk, 'region', '', 'deferred_until', d.release)\n"                \
    "    redis.call('ZADD', deferred_key(), d.release, id)\n"                                \
    "    transition(id, 'deferred', 'scheduler', d.why, now_ms, now_iso)\n"                 \
    "    return 'deferred'\n"                                                             \
    "end\n"                                                                               \
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
 * ARGV: P, dedup ttl, now_ms, now_iso, reason, the routing decision when the job needs no
 * inspection ('' otherwise; see route_parse), then the job's field/value pairs (repo, pr,
 * head_sha, ... delivery). Returns {outcome, job id, superseded id, superseded n, state}. */
static const char intake_src[] =
    LIBRARY "local ttl, now_ms, now_iso, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
            "local route = ARGV[6] ~= '' and route_parse(ARGV[6])\n"
            "local f = {}\n"
            "for i = 7, #ARGV - 1, 2 do f[ARGV[i]] = ARGV[i + 1] end\n"
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
            "redis.call('HSET', job_key(id), unpack(ARGV, 7))\n"
            "redis.call('ZADD', KEYS[3], id, id)\n"
            "redis.call('SET', KEYS[4], id)\n"
            "redis.call('SADD', KEYS[5], id)\n"
            "transition(id, 'received', 'github', reason, now_ms, now_iso, route)\n"
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
            "local state = 'received'\n"
            /* Nothing to inspect (no migration policy) and a decision that needs no loads: */
            /* the job passes inspection and is routed in this same step. GitHub shows one  */
            /* status per commit, the newest: only the last of the three steps puts one.   */
            "if route then\n"
            "    transition(id, 'inspecting', 'scheduler',\n"
            "               'nothing to inspect: no migration policy for this repository', now_ms,\n"
            "               now_iso, true)\n"
            "    state = route_to(id, route, now_ms, now_iso)\n"
            "end\n"
            "redis.call('SET', KEYS[1], id, 'EX', ttl)\n"
            "return {'created', id, superseded, n, state}\n";

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
 * be due for routing (a released deferral), the labels runners need (comma-separated).
 * Moves the job out of wherever it waits (a
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
            "route_to(id, {kind = ARGV[5], region = ARGV[6], release = ARGV[7], labels = ARGV[12],\n"
            "              why = ARGV[8]}, ARGV[9], ARGV[10])\n"
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

/* KEYS: queue of the region, leases, fence counter, audit. ARGV: P, region, runner,
 * runner labels (comma-separated), lease id, lease ms, now_ms, now_iso, how many queued
 * jobs to look at, the runner token's id, idle names kept per token, idle window ms. Takes the oldest queued job whose labels the runner has and whose
 * build locks are free: it leaves the queue, takes its locks (SET NX PX, "JOB:LEASE"),
 * a fencing token (INCR) and a lease recorded by expiry. A job kept waiting by a lock
 * says so in its reason. A runner that finds nothing is recorded as idle in its region,
 * under its token: `idle:REGION:TOKEN` (zset, score = last poll) with its labels in
 * `idle:REGION:TOKEN:labels`, the token in `idlet:REGION` (score = last poll). Names
 * older than the window leave, a token keeps its most recent names only, and the keys
 * expire with the window, so one token cannot make a region look busy with idle runners.
 * Returns the number of queued jobs passed over for want of a label (0: none) or {id,
 * fencing token, lease expiry ms, attempt}: the long poll passes its wake-up on to
 * another waiter only when a job was left for a runner with other labels. */
static const char claim_src[] =
    LIBRARY "check_key(KEYS[1], queue_key(ARGV[2]))\n"
            "check_key(KEYS[2], leases_key())\n"
            "check_key(KEYS[3], P .. 'fence')\n"
            "check_key(KEYS[4], audit_key())\n"
            "local now, lease_ms = tonumber(ARGV[7]), tonumber(ARGV[6])\n"
            "local idle_tok = P .. 'idle:' .. ARGV[2] .. ':' .. ARGV[10]\n"
            "local idle_lab = idle_tok .. ':labels'\n"
            "local have = {}\n"
            "for l in string.gmatch(ARGV[4], '[^,]+') do have[l] = true end\n"
            "local function labels_ok(need)\n"
            "    for l in string.gmatch(need or '', '[^,]+') do\n"
            "        if not have[l] then return false end\n"
            "    end\n"
            "    return true\n"
            "end\n"
            "local passed = 0\n"
            "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[9]) - 1)) do\n"
            "    local jk = job_key(id)\n"
            "    local f = redis.call('HMGET', jk, 'state', 'repo', 'pr', 'labels', 'migration',\n"
            "                         'reason')\n"
            "    if f[1] ~= 'queued' then\n"
            "        redis.call('ZREM', KEYS[1], id)\n"
            "    elseif not labels_ok(f[4]) then\n"
            "        passed = passed + 1\n"
            "    else\n"
            "        local locks = {pr_lock_key(f[2], f[3])}\n"
            "        if f[5] == '1' then locks[2] = migration_lock_key(f[2]) end\n"
            "        local held = false\n"
            "        for i, k in ipairs(locks) do\n"
            "            local v = redis.call('GET', k)\n"
            "            if v then\n"
            "                held = (i == 1 and ('build lock of ' .. f[2] .. '#' .. f[3])\n"
            "                        or ('migration lock of ' .. f[2])) ..\n"
            "                       ' held by job ' .. string.match(v, '^[^:]*')\n"
            "                break\n"
            "            end\n"
            "        end\n"
            "        if held then\n"
            "            local why = 'queued in ' .. ARGV[2] .. ', waiting: ' .. held\n"
            "            if f[6] ~= why then redis.call('HSET', jk, 'reason', why) end\n"
            "        else\n"
            "            redis.call('ZREM', KEYS[1], id)\n"
            "            for _, k in ipairs(locks) do\n"
            "                redis.call('SET', k, id .. ':' .. ARGV[5], 'NX', 'PX', lease_ms)\n"
            "            end\n"
            "            local fence = redis.call('INCR', KEYS[3])\n"
            "            local attempt = redis.call('HINCRBY', jk, 'attempts', 1)\n"
            "            local expires = now + lease_ms\n"
            "            redis.call('HSET', jk, 'lease_id', ARGV[5], 'lease_expires', expires,\n"
            "                       'runner', ARGV[3], 'fencing_token', fence)\n"
            "            redis.call('ZADD', KEYS[2], expires, id)\n"
            "            redis.call('ZREM', idle_key(ARGV[2]), ARGV[3])\n"
            "            redis.call('ZREM', idle_tok, ARGV[3])\n"
            "            redis.call('HDEL', idle_lab, ARGV[3])\n"
            "            transition(id, 'leased', 'runner:' .. ARGV[3],\n"
            "                       'claimed by runner ' .. ARGV[3] .. ' in ' .. ARGV[2] ..\n"
            "                       ' (attempt ' .. attempt .. ', fencing token ' .. fence .. ')',\n"
            "                       ARGV[7], ARGV[8])\n"
            "            return {id, fence, expires, attempt}\n"
            "        end\n"
            "    end\n"
            "end\n"
            "local window, keep = tonumber(ARGV[12]), tonumber(ARGV[11])\n"
            "redis.call('ZADD', idle_tok, now, ARGV[3])\n"
            "redis.call('HSET', idle_lab, ARGV[3], ARGV[4])\n"
            "local gone = redis.call('ZRANGEBYSCORE', idle_tok, '-inf', '(' .. (now - window))\n"
            "local n = redis.call('ZCARD', idle_tok) - #gone\n"
            "if n > keep then\n"
            "    for _, r in ipairs(redis.call('ZRANGE', idle_tok, #gone, #gone + n - keep - 1)) do\n"
            "        gone[#gone + 1] = r\n"
            "    end\n"
            "end\n"
            "for _, r in ipairs(gone) do\n"
            "    redis.call('ZREM', idle_tok, r)\n"
            "    redis.call('HDEL', idle_lab, r)\n"
            "end\n"
            "redis.call('PEXPIRE', idle_tok, window)\n"
            "redis.call('PEXPIRE', idle_lab, window)\n"
            "local tk = P .. 'idlet:' .. ARGV[2]\n"
            "redis.call('ZADD', tk, now, ARGV[10])\n"
            "redis.call('ZREMRANGEBYSCORE', tk, '-inf', '(' .. (now - window))\n"
            "redis.call('PEXPIRE', tk, window)\n"
            "return passed\n";

/* KEYS: job, leases, audit. ARGV: P, id, lease id, lease ms, now_ms. Extends a valid lease
 * and its locks. A lease is alive only while all its build locks are: when one has
 * expired (its runner was silent longer than the lease) the heartbeat is refused, the
 * lease is not extended and the reaper puts the job back; the locks are not taken again,
 * since another build of the PR or a migration of the repository may already hold them or
 * have run. Returns {'ok', expiry}, {'cancel', state} when the job was superseded or
 * cancelled under this lease, {'lost', state} or {'lost', state, lock key, holder}. */
static const char heartbeat_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], leases_key())\n"
            "check_key(KEYS[3], audit_key())\n"
            "local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id')\n"
            "if not f[1] or f[2] ~= ARGV[3] or ARGV[3] == '' then\n"
            "    return {'lost', f[1] or ''}\n"
            "end\n"
            /* Superseded or cancelled under this lease: the locks were kept until the   */
            /* runner hears it, so two builds of one PR never overlap. */
            "if f[1] == 'superseded' or f[1] == 'cancelled' then\n"
            "    end_lease(id, ARGV[3])\n"
            "    return {'cancel', f[1]}\n"
            "end\n"
            "if f[1] ~= 'leased' then return {'lost', f[1]} end\n"
            "for _, k in ipairs(job_locks(id)) do\n"
            "    local v = redis.call('GET', k)\n"
            "    if v ~= id .. ':' .. ARGV[3] then\n"
            "        return {'lost', f[1], string.sub(k, #P + 1),\n"
            "                v and string.match(v, '^[^:]*') or ''}\n"
            "    end\n"
            "end\n"
            "local expires = tonumber(ARGV[5]) + tonumber(ARGV[4])\n"
            "redis.call('HSET', KEYS[1], 'lease_expires', expires)\n"
            "redis.call('ZADD', KEYS[2], expires, id)\n"
            "extend_locks(id, ARGV[3], ARGV[4])\n"
            "return {'ok', tostring(expires)}\n";

/* KEYS: job, history, audit. ARGV: P, id, lease id, 'success'|'failure', runner,
 * now_ms, now_iso. Ends a leased job once; the same lease asking again is told 'done'
 * with the state the first report left (nothing changes), any other lease 'lost'. A job
 * superseded or cancelled under this lease is not completed, but its lease ends here:
 * its locks are freed at once, so the PR's new build does not wait for the lease to run
 * out. Returns {'ok'|'done'|'lost'|'superseded', state}. */
static const char complete_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id', 'completed_lease')\n"
            "if not f[1] or ARGV[3] == '' then return {'lost', f[1] or ''} end\n"
            "if f[3] == ARGV[3] then return {'done', f[1]} end\n"
            "if (f[1] == 'superseded' or f[1] == 'cancelled') and f[2] == ARGV[3] then\n"
            "    end_lease(id, ARGV[3])\n"
            "    redis.call('HSET', KEYS[1], 'lease_id', '')\n"
            "    return {'superseded', f[1]}\n"
            "end\n"
            "if f[1] ~= 'leased' or f[2] ~= ARGV[3] then return {'lost', f[1]} end\n"
            "local to = ARGV[4] == 'success' and 'succeeded' or 'failed'\n"
            "redis.call('HSET', KEYS[1], 'completed_lease', ARGV[3])\n"
            "end_lease(id, ARGV[3])\n"
            "transition(id, to, 'runner:' .. ARGV[5], 'runner ' .. ARGV[5] .. ' reported ' ..\n"
            "           ARGV[4], ARGV[6], ARGV[7])\n"
            "return {'ok', to}\n";

/* KEYS: job, history, audit. ARGV: P, id, lease id, fencing token, runner, why, now_ms,
 * now_iso. A lease handed out but never used (the runner's connection closed before the
 * answer reached it, or the runner was stopping): only the current lease with its own
 * fencing token may give the job back, before anyone else holds it. The job returns to
 * its place in its region's queue (the queue is ordered by id, and it was the oldest
 * claimable job there when it was taken) and the attempt it cost is given back, so a
 * runner that never started the job does not use up one of its attempts. A job that was
 * superseded or cancelled meanwhile only has its lease ended (its locks freed). Returns
 * {'ok', state after} or {'lost', state}. */
static const char release_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id', 'fencing_token',\n"
            "                     'region', 'attempts')\n"
            "if not f[1] or ARGV[3] == '' or f[2] ~= ARGV[3] or f[3] ~= ARGV[4] then\n"
            "    return {'lost', f[1] or ''}\n"
            "end\n"
            "if f[1] == 'superseded' or f[1] == 'cancelled' then\n"
            "    end_lease(id, ARGV[3])\n"
            "    redis.call('HSET', KEYS[1], 'lease_id', '')\n"
            "    return {'ok', f[1]}\n"
            "end\n"
            "if f[1] ~= 'leased' or not f[4] or f[4] == '' then return {'lost', f[1]} end\n"
            "local n = tonumber(f[5]) or 1\n"
            "if n > 0 then n = n - 1 end\n"
            "redis.call('HSET', KEYS[1], 'lease_id', '', 'attempts', n)\n"
            "redis.call('ZADD', queue_key(f[4]), id, id)\n"
            "transition(id, 'queued', 'runner:' .. ARGV[5], 'released unused by runner ' ..\n"
            "           ARGV[5] .. ' (' .. ARGV[6] .. '): back in the ' .. f[4] ..\n"
            "           ' queue, attempt not counted', ARGV[7], ARGV[8])\n"
            /* After the job is back in its queue, so that the wake-up finds it. */
            "end_lease(id, ARGV[3])\n"
            "return {'ok', 'queued'}\n";

/* KEYS: leases, audit. ARGV: P, now_ms, now_iso, max attempts, limit. Leases not renewed
 * in time: the job goes back to its region's queue (its locks freed), or is dead after
 * max attempts. Returns {requeued, dead}. */
static const char reap_src[] =
    LIBRARY "check_key(KEYS[1], leases_key())\n"
            "check_key(KEYS[2], audit_key())\n"
            "local requeued, dead = 0, 0\n"
            "local max = tonumber(ARGV[4])\n"
            "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT',\n"
            "                               0, tonumber(ARGV[5]))) do\n"
            "    redis.call('ZREM', KEYS[1], id)\n"
            "    local jk = job_key(id)\n"
            "    local f = redis.call('HMGET', jk, 'state', 'attempts', 'region', 'lease_id',\n"
            "                         'runner')\n"
            "    if FINAL[f[1]] then\n"
            /* superseded or cancelled while leased, and the runner never came back */
            "        end_lease(id, f[4] or '')\n"
            "    elseif f[1] == 'leased' then\n"
            "        end_lease(id, f[4] or '')\n"
            "        redis.call('HSET', jk, 'lease_id', '')\n"
            "        local n = tonumber(f[2]) or 0\n"
            "        local silent = 'lease expired: runner ' .. (f[5] or '?') .. ' stopped renewing'\n"
            "        if n >= max then\n"
            "            transition(id, 'dead', 'scheduler', silent .. ' on attempt ' .. n ..\n"
            "                       ' of ' .. max .. '; no attempts left', ARGV[2], ARGV[3])\n"
            "            dead = dead + 1\n"
            "        else\n"
            "            redis.call('ZADD', queue_key(f[3]), id, id)\n"
            "            transition(id, 'queued', 'scheduler', silent .. '; back in the ' ..\n"
            "                       f[3] .. ' queue after attempt ' .. n .. ' of ' .. max,\n"
            "                       ARGV[2], ARGV[3])\n"
            "            redis.call('PUBLISH', ready_channel(), f[3])\n"
            "            requeued = requeued + 1\n"
            "        end\n"
            "    end\n"
            "end\n"
            "return {requeued, dead}\n";

/* KEYS: state:received, inspect schedule, audit. ARGV: P, now_ms, now_iso, lease ms.
 * Takes one job to inspect: a retry or an abandoned inspection that is due (the schedule
 * holds when each may be taken up again), else the oldest received job, which becomes
 * `inspecting`. Its score becomes now + lease, so a crashed inspector's job returns.
 * Returns false or {id, repo, pr, head_sha, base_sha, clone_url, inspect_attempts,
 * installation_id}: what the inspector needs, without another round trip. */
static const char inspect_claim_src[] =
    LIBRARY "local function view(id)\n"
            "    local f = redis.call('HMGET', job_key(id), 'repo', 'pr', 'head_sha', 'base_sha',\n"
            "                         'clone_url', 'inspect_attempts', 'installation_id')\n"
            "    return {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7]}\n"
            "end\n"
            "check_key(KEYS[1], state_key('received'))\n"
            "check_key(KEYS[2], P .. 'inspect')\n"
            "check_key(KEYS[3], audit_key())\n"
            "local due_at = tonumber(ARGV[2]) + tonumber(ARGV[4])\n"
            "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2],\n"
            "                               'LIMIT', 0, 5)) do\n"
            "    if redis.call('HGET', job_key(id), 'state') == 'inspecting' then\n"
            "        redis.call('ZADD', KEYS[2], due_at, id)\n"
            "        return view(id)\n"
            "    end\n"
            "    redis.call('ZREM', KEYS[2], id)\n"
            "end\n"
            "local ids = redis.call('ZRANGE', KEYS[1], 0, 0)\n"
            "if #ids == 0 then return false end\n"
            "local id = ids[1]\n"
            "transition(id, 'inspecting', 'scheduler', 'reading the pull request diff',\n"
            "           ARGV[2], ARGV[3])\n"
            "redis.call('ZADD', KEYS[2], due_at, id)\n"
            "return view(id)\n";

/* KEYS: job, history, audit. ARGV: P, id, outcome ('route'|'approve'|'retry'), reason,
 * now_ms, now_iso, retry_at_ms, then for 'approve' the approval card as JSON ({region,
 * channel, mentions, oncall, plan, escalate_at}) and for 'route' the routing decision
 * ("queue|defer TAB region TAB release_ms TAB labels TAB reason"), '' for none, then
 * field/value pairs to store (risk, report, ...). Ends an inspection, only if the job is
 * still `inspecting`: 'route' with a decision queues or defers the job in this same step,
 * 'route' without one hands it to the routers (the routing set), 'approve' makes it await
 * approval and records its card, 'retry' schedules another attempt.
 * Returns {'ok'|'conflict', state}. */
static const char inspect_done_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local cur = redis.call('HGET', KEYS[1], 'state')\n"
            "if cur ~= 'inspecting' then return {'conflict', cur or ''} end\n"
            "local d = ARGV[3] == 'route' and ARGV[8] ~= '' and route_parse(ARGV[8])\n"
            "if #ARGV > 8 then redis.call('HSET', KEYS[1], unpack(ARGV, 9)) end\n"
            "if ARGV[3] == 'retry' then\n"
            "    redis.call('ZADD', P .. 'inspect', ARGV[7], id)\n"
            "    note(id, 'scheduler', ARGV[4], ARGV[6])\n"
            "    redis.call('HSET', KEYS[1], 'reason', ARGV[4])\n"
            "    return {'ok', cur}\n"
            "end\n"
            "redis.call('ZREM', P .. 'inspect', id)\n"
            "if ARGV[3] == 'approve' then\n"
            "    if ARGV[8] ~= '' then card_put(id, cjson.decode(ARGV[8]), ARGV[5]) end\n"
            "    transition(id, 'awaiting_approval', 'scheduler', ARGV[4], ARGV[5], ARGV[6])\n"
            "elseif d then\n"
            "    note(id, 'scheduler', ARGV[4], ARGV[6])\n"
            "    route_to(id, d, ARGV[5], ARGV[6])\n"
            "else\n"
            "    redis.call('SADD', routing_key(), id)\n"
            "    note(id, 'scheduler', ARGV[4], ARGV[6])\n"
            "    redis.call('HSET', KEYS[1], 'reason', ARGV[4])\n"
            "end\n"
            "return {'ok', cur}\n";

/* KEYS: a lock. ARGV: P, token. Compare-and-delete: only the holder frees it. */
static const char unlock_src[] =
    LIBRARY "if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end\n"
            "return 0\n";

/* KEYS: job, history, audit. ARGV: P, id, 'approve'|'reject', actor, reason, now_ms,
 * now_iso, the decision time in the decider's region ("2026-03-09 10:30 JST"), '1' to
 * check the card key (a Slack click) or '', the key the card carried ('' for a card
 * without one). A checked key that is not the job's `card_key` ('' for a job from
 * before card keys) is a card of another job that had the same id before Redis was
 * wiped: {'stale', state}, nothing changes. Only a
 * job awaiting approval and not decided yet can be decided; the decision is recorded in
 * the job with who and when, its cards are updated and its escalation ends. Approving
 * hands the job to the routers (the routing set; its state changes when a router
 * applies a decision), rejecting ends it. Returns {'ok', state after} or {'missing', ''}
 * or {'conflict', state, decision, by}. */
static const char decide_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local cur = redis.call('HMGET', KEYS[1], 'state', 'decision', 'decided_by')\n"
            "if not cur[1] then return {'missing', ''} end\n"
            "if ARGV[9] == '1' and str(redis.call('HGET', KEYS[1], 'card_key')) ~= ARGV[10]\n"
            "then\n"
            "    return {'stale', cur[1]}\n"
            "end\n"
            "if cur[1] ~= 'awaiting_approval' or (cur[2] and cur[2] ~= '') then\n"
            "    return {'conflict', cur[1], str(cur[2]), str(cur[3])}\n"
            "end\n"
            "local decision = 'rejected'\n"
            "if ARGV[3] == 'approve' then decision = 'approved' end\n"
            "redis.call('HSET', KEYS[1], 'decision', decision, 'decided_by', ARGV[4],\n"
            "           'decided_at', ARGV[6], 'decided_local', ARGV[8])\n"
            "redis.call('ZREM', P .. 'escalate', id)\n"
            "cards_update(id, tonumber(redis.call('HGET', KEYS[1], 'cards') or '0'), ARGV[6])\n"
            "if decision == 'approved' then\n"
            "    redis.call('HSET', KEYS[1], 'reason', ARGV[5])\n"
            "    note(id, ARGV[4], ARGV[5], ARGV[7])\n"
            "    redis.call('SADD', routing_key(), id)\n"
            "    status_put(id, 'approved', ARGV[5], ARGV[6], ARGV[7])\n"
            "    return {'ok', 'awaiting_approval'}\n"
            "end\n"
            "transition(id, 'rejected', ARGV[4], ARGV[5], ARGV[6], ARGV[7])\n"
            "return {'ok', 'rejected'}\n";

/* KEYS: outbox:seq, outbox:due, the dedup key (outbox:seq again when there is none).
 * ARGV: P, kind, payload, now_ms, '1' when a dedup key is given, its ttl (s). Records a
 * message, due at once; a dedup key already seen answers the first message's id.
 * Returns {id, 1 if created else 0}. */
static const char outbox_put_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'outbox:seq')\n"
            "check_key(KEYS[2], P .. 'outbox:due')\n"
            "if ARGV[5] == '1' then\n"
            "    local seen = redis.call('GET', KEYS[3])\n"
            "    if seen then return {seen, 0} end\n"
            "end\n"
            "local id = outbox_add(ARGV[2], ARGV[3], ARGV[4])\n"
            "if ARGV[5] == '1' then redis.call('SET', KEYS[3], id, 'EX', ARGV[6]) end\n"
            "return {id, 1}\n";

/* KEYS: outbox:due. ARGV: P, now_ms, lease_ms, token, page size, most pages. Takes the
 * message due first whose order is free and leases it: its score becomes now + lease (a
 * crashed worker's message comes back then), its token the new one, its attempts one
 * more. A message waiting behind an older one of its order is passed over, and so is
 * every later message of that order without another LINDEX; the scan goes on page after
 * page (at most `most pages`), so statuses piled up behind one order (a GitHub outage)
 * never hold back a message of another order (a Slack card). Entries whose hash is gone
 * or no longer pending are dropped on the way. Returns false or {id, kind, payload,
 * attempts, created_at}. */
static const char outbox_take_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'outbox:due')\n"
            "local page, pages = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
            "local busy, offset = {}, 0\n"
            "for _ = 1, pages do\n"
            "    local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2],\n"
            "                           'LIMIT', offset, page)\n"
            "    for _, id in ipairs(ids) do\n"
            "        local hk = P .. 'outbox:' .. id\n"
            "        local f = redis.call('HMGET', hk, 'state', 'kind', 'payload', 'created_at',\n"
            "                             'order')\n"
            "        local o = f[5] or ''\n"
            "        local blocked = f[1] == 'pending' and o ~= '' and\n"
            "                        (busy[o] or redis.call('LINDEX', order_key(o), 0) ~= id)\n"
            "        if blocked then\n"
            "            -- an older message of its order is still out: wait behind it\n"
            "            busy[o] = true\n"
            "            offset = offset + 1\n"
            "        elseif f[1] == 'pending' then\n"
            "            redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), id)\n"
            "            local n = redis.call('HINCRBY', hk, 'attempts', 1)\n"
            "            redis.call('HSET', hk, 'token', ARGV[4])\n"
            "            return {id, f[2], f[3], n, f[4]}\n"
            "        else\n"
            "            redis.call('ZREM', KEYS[1], id)\n"
            "        end\n"
            "    end\n"
            "    if #ids < page then break end\n"
            "end\n"
            "return false\n";

/* KEYS: the message hash, outbox:due. ARGV: P, id, token, now_ms, ttl (s), result.
 * Compare-and-set: only the current lease marks the message done, once; the same token
 * asking again is told 'again'. A done record expires after ttl. Returns 'ok', 'again',
 * 'missing' or 'conflict'. */
static const char outbox_done_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'outbox:' .. ARGV[2])\n"
            "check_key(KEYS[2], P .. 'outbox:due')\n"
            "local f = redis.call('HMGET', KEYS[1], 'state', 'token')\n"
            "if not f[1] then return 'missing' end\n"
            "if f[2] ~= ARGV[3] then return 'conflict' end\n"
            "if f[1] == 'done' then return 'again' end\n"
            "if f[1] ~= 'pending' then return 'conflict' end\n"
            "redis.call('HSET', KEYS[1], 'state', 'done', 'done_at', ARGV[4],\n"
            "           'result', ARGV[6])\n"
            "redis.call('ZREM', KEYS[2], ARGV[2])\n"
            "order_release(KEYS[1], ARGV[2])\n"
            "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
            "return 'ok'\n";

/* KEYS: the message hash, outbox:due, outbox:dead. ARGV: P, id, token, error, retry_at,
 * max_attempts (0: never dead), now_ms. Only the current lease may fail a message: it is
 * due again at retry_at, or dead once its attempts reach max_attempts. The token is
 * cleared, so a second fail of the same lease changes nothing. Returns 'retry', 'dead',
 * 'missing' or 'conflict'. */
static const char outbox_fail_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'outbox:' .. ARGV[2])\n"
            "check_key(KEYS[2], P .. 'outbox:due')\n"
            "check_key(KEYS[3], P .. 'outbox:dead')\n"
            "local f = redis.call('HMGET', KEYS[1], 'state', 'token', 'attempts')\n"
            "if not f[1] then return 'missing' end\n"
            "if f[1] ~= 'pending' or f[2] ~= ARGV[3] or ARGV[3] == '' then\n"
            "    return 'conflict'\n"
            "end\n"
            "redis.call('HSET', KEYS[1], 'last_error', ARGV[4], 'token', '')\n"
            "local max = tonumber(ARGV[6])\n"
            "if max > 0 and tonumber(f[3]) >= max then\n"
            "    redis.call('HSET', KEYS[1], 'state', 'dead', 'dead_at', ARGV[7])\n"
            "    redis.call('ZREM', KEYS[2], ARGV[2])\n"
            "    redis.call('ZADD', KEYS[3], ARGV[7], ARGV[2])\n"
            "    order_release(KEYS[1], ARGV[2])\n"
            "    return 'dead'\n"
            "end\n"
            "redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])\n"
            "return 'retry'\n";

/* KEYS: job, history, audit. ARGV: P, id, the number of cards the caller saw, the next
 * card as JSON (as in inspect_done; region '' when there is nowhere left to go), now_ms,
 * now_iso, reason. Escalates a job still awaiting a decision and due for escalation,
 * once however many routers race (the card count and the due time are the
 * compare-and-set): the next card is recorded and
 * posted, the earlier ones are updated to say so, a history, audit and status entry
 * tell where it went. Returns 'ok', 'none' (nowhere to go: escalation ends), 'gone'
 * (decided or no longer awaiting approval) or 'raced'. */
static const char escalate_src[] =
    LIBRARY "local id = ARGV[2]\n"
            "check_key(KEYS[1], job_key(id))\n"
            "check_key(KEYS[2], history_key(id))\n"
            "check_key(KEYS[3], audit_key())\n"
            "local f = redis.call('HMGET', KEYS[1], 'state', 'decision', 'cards')\n"
            "if f[1] ~= 'awaiting_approval' or (f[2] and f[2] ~= '') then\n"
            "    redis.call('ZREM', P .. 'escalate', id)\n"
            "    return 'gone'\n"
            "end\n"
            "if str(f[3]) ~= ARGV[3] then return 'raced' end\n"
            /* Another router may have escalated it between our read and this script: then */
            /* the count matches its new card, but the next escalation is not due yet. */
            "local due = redis.call('ZSCORE', P .. 'escalate', id)\n"
            "if not due or tonumber(due) > tonumber(ARGV[5]) then return 'raced' end\n"
            "local c = cjson.decode(ARGV[4])\n"
            "note(id, 'scheduler', ARGV[7], ARGV[6])\n"
            "if c.region == '' then\n"
            "    redis.call('ZREM', P .. 'escalate', id)\n"
            "    return 'none'\n"
            "end\n"
            "local n = card_put(id, c, ARGV[5])\n"
            "cards_update(id, n, ARGV[5])\n"
            "status_put(id, 'awaiting_approval', ARGV[7], ARGV[5], ARGV[6])\n"
            "return 'ok'\n";

/* KEYS: job. ARGV: P, id, card number, ts. Remembers where card N was posted, once: a
 * second post of the same card (a retried delivery) finds it there. Returns 1 when
 * recorded, 0 when the card already had a ts, false for a missing job. */
static const char card_posted_src[] =
    LIBRARY "check_key(KEYS[1], job_key(ARGV[2]))\n"
            "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
            "return redis.call('HSETNX', KEYS[1], 'card:' .. ARGV[3] .. ':ts', ARGV[4])\n";

/* KEYS: delivery:GUID, redelivery:asked:GUID. ARGV: P, now_ms, ttl (s). A GUID intake
 * recorded is never asked for; one asked for is asked once. Returns 'accepted', 'asked'
 * or 'ask' (now recorded as asked). */
static const char redelivery_claim_src[] =
    LIBRARY "if redis.call('EXISTS', KEYS[1]) == 1 then return 'accepted' end\n"
            "if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 'ask' end\n"
            "return 'asked'\n";

/* KEYS: redelivery:mark. ARGV: P, id, ttl (s). Raises the mark, never lowers it. Returns
 * the mark after. */
static const char redelivery_mark_src[] =
    LIBRARY "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
            "local id = tonumber(ARGV[2])\n"
            "if id > cur then\n"
            "    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
            "    return ARGV[2]\n"
            "end\n"
            "return tostring(cur)\n";

/* KEYS: idlet:REGION. ARGV: P, region, since ms, required labels (comma-separated), most
 * names counted per token. Read-only: the runners seen idle in the region since `since`
 * whose labels include every required one, each token counting for at most the given
 * number of names. Returns the count. */
static const char idle_count_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'idlet:' .. ARGV[2])\n"
            "local need = {}\n"
            "for l in string.gmatch(ARGV[4], '[^,]+') do need[#need + 1] = l end\n"
            "local cap, total = tonumber(ARGV[5]), 0\n"
            "for _, tok in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf')) do\n"
            "    local k = P .. 'idle:' .. ARGV[2] .. ':' .. tok\n"
            "    local c = 0\n"
            "    for _, r in ipairs(redis.call('ZRANGEBYSCORE', k, ARGV[3], '+inf')) do\n"
            "        local have = {}\n"
            "        for l in string.gmatch(redis.call('HGET', k .. ':labels', r) or '',\n"
            "                               '[^,]+') do\n"
            "            have[l] = true\n"
            "        end\n"
            "        local ok = true\n"
            "        for _, l in ipairs(need) do\n"
            "            if not have[l] then ok = false break end\n"
            "        end\n"
            "        if ok then c = c + 1 end\n"
            "    end\n"
            "    if c > cap then c = cap end\n"
            "    total = total + c\n"
            "end\n"
            "return total\n";
/* ---- retention (scheduler/retention.c) ----------------------------------------------- */

/* KEYS: finished, jobs. ARGV: P, horizon_ms, limit. Deletes jobs that finished
 * before the horizon, oldest first, each with every key and index entry that names it:
 * hash, history, the listing and state sets, the live key and PR set (already gone for a
 * final job, but an older version may have left them), every queue and schedule. A job in
 * `finished` that is not final (never written so; only by hand) leaves the index and stays.
 * Deleting an already deleted job changes nothing, so racing passes are harmless.
 * Returns {deleted, examined}. */
static const char retention_purge_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'finished')\n"
            "check_key(KEYS[2], P .. 'jobs')\n"
            "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT',\n"
            "                       0, tonumber(ARGV[3]))\n"
            "local n = 0\n"
            "for _, id in ipairs(ids) do\n"
            "    local jk = job_key(id)\n"
            "    local f = redis.call('HMGET', jk, 'state', 'repo', 'pr', 'head_sha', 'region')\n"
            "    if not f[1] or FINAL[f[1]] then\n"
            "        if f[1] then redis.call('ZREM', state_key(f[1]), id) end\n"
            "        redis.call('ZREM', KEYS[2], id)\n"
            "        if f[2] and f[3] then\n"
            "            redis.call('SREM', pr_key(f[2], f[3]), id)\n"
            "            if f[4] then\n"
            "                local lk = live_key(f[2], f[3], f[4])\n"
            "                if redis.call('GET', lk) == id then redis.call('DEL', lk) end\n"
            "            end\n"
            "        end\n"
            "        if f[5] and f[5] ~= '' then redis.call('ZREM', queue_key(f[5]), id) end\n"
            "        redis.call('ZREM', deferred_key(), id)\n"
            "        redis.call('SREM', routing_key(), id)\n"
            "        redis.call('ZREM', leases_key(), id)\n"
            "        redis.call('ZREM', P .. 'inspect', id)\n"
            "        redis.call('ZREM', P .. 'escalate', id)\n"
            "        redis.call('DEL', jk, history_key(id))\n"
            "        if f[1] then n = n + 1 end\n"
            "    end\n"
            "    redis.call('ZREM', KEYS[1], id)\n"
            "end\n"
            "return {n, #ids}\n";

/* KEYS: finished, retention. ARGV: P, limit, now_ms, rescan_ms. Indexes final jobs that
 * are missing from `finished`: those that became final before it existed, or under a
 * process of an older version during a rolling upgrade. Each final state set is walked by
 * id (the cursor is `backfill:STATE` in the retention hash, 'done' at the end) and its jobs
 * join `finished` scored by updated_at, which a final job never changes. NX: a time written
 * by transition() is never replaced. Once every state is done (`backfill:at`), the walk
 * starts over rescan_ms later. Returns the number of jobs looked at. */
static const char retention_backfill_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'finished')\n"
            "check_key(KEYS[2], P .. 'retention')\n"
            "local STATES = {'cancelled', 'dead', 'failed', 'rejected', 'succeeded', 'superseded'}\n"
            "local now = tonumber(ARGV[3])\n"
            "local function all_done()\n"
            "    for _, st in ipairs(STATES) do\n"
            "        if redis.call('HGET', KEYS[2], 'backfill:' .. st) ~= 'done' then\n"
            "            return false\n"
            "        end\n"
            "    end\n"
            "    return true\n"
            "end\n"
            "if all_done() then\n"
            "    local at = tonumber(redis.call('HGET', KEYS[2], 'backfill:at') or '0') or 0\n"
            "    if now - at < tonumber(ARGV[4]) then return 0 end\n"
            "    for _, st in ipairs(STATES) do redis.call('HDEL', KEYS[2], 'backfill:' .. st) end\n"
            "end\n"
            "local left = tonumber(ARGV[2])\n"
            "local seen = 0\n"
            "for _, st in ipairs(STATES) do\n"
            "    local field = 'backfill:' .. st\n"
            "    local cur = redis.call('HGET', KEYS[2], field) or '0'\n"
            "    if cur ~= 'done' and left > 0 then\n"
            "        local ids = redis.call('ZRANGEBYSCORE', state_key(st), '(' .. cur, '+inf',\n"
            "                               'LIMIT', 0, left)\n"
            "        for _, id in ipairs(ids) do\n"
            "            local f = redis.call('HMGET', job_key(id), 'updated_at', 'created_at')\n"
            "            local at = tonumber(f[1] or '') or tonumber(f[2] or '') or now\n"
            "            redis.call('ZADD', KEYS[1], 'NX', at, id)\n"
            "        end\n"
            "        seen = seen + #ids\n"
            "        if #ids < left then\n"
            "            redis.call('HSET', KEYS[2], field, 'done')\n"
            "        else\n"
            "            redis.call('HSET', KEYS[2], field, ids[#ids])\n"
            "        end\n"
            "        left = left - #ids\n"
            "    end\n"
            "end\n"
            "if all_done() then redis.call('HSET', KEYS[2], 'backfill:at', ARGV[3]) end\n"
            "return seen\n";

/* KEYS: outbox:dead. ARGV: P, horizon_ms, limit. Drops dead letters that died before the
 * horizon, record and index entry. A record that is no longer dead (retried by hand) only
 * leaves the index. Returns the number dropped. */
static const char retention_dead_src[] =
    LIBRARY "check_key(KEYS[1], P .. 'outbox:dead')\n"
            "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT',\n"
            "                       0, tonumber(ARGV[3]))\n"
            "for _, id in ipairs(ids) do\n"
            "    local hk = P .. 'outbox:' .. id\n"
            "    local st = redis.call('HGET', hk, 'state')\n"
            "    if not st or st == 'dead' then redis.call('DEL', hk) end\n"
            "    redis.call('ZREM', KEYS[1], id)\n"
            "end\n"
            "return #ids\n";

/* KEYS: a set or sorted set of job ids, retention. ARGV: P, 'set'|'zset', count. One
 * step of a SCAN over the set (the cursor is `sweep:KEY` in the retention hash): ids whose
 * job hash is gone are removed. Returns the number removed. */
static const char retention_sweep_src[] =
    LIBRARY "check_key(KEYS[2], P .. 'retention')\n"
            "check_key(string.sub(KEYS[1], 1, #P), P)\n"
            "local field = 'sweep:' .. KEYS[1]\n"
            "local cur = redis.call('HGET', KEYS[2], field) or '0'\n"
            "local zset = ARGV[2] == 'zset'\n"
            "local r = redis.call(zset and 'ZSCAN' or 'SSCAN', KEYS[1], cur, 'COUNT', ARGV[3])\n"
            "local n, step = 0, zset and 2 or 1\n"
            "for i = 1, #r[2], step do\n"
            "    local id = r[2][i]\n"
            "    if redis.call('EXISTS', job_key(id)) == 0 then\n"
            "        redis.call(zset and 'ZREM' or 'SREM', KEYS[1], id)\n"
            "        n = n + 1\n"
            "    end\n"
            "end\n"
            "redis.call('HSET', KEYS[2], field, r[1])\n"
            "return n\n";

static const char *const sources[SCHED_SCRIPT_COUNT] = {
    [SCHED_SCRIPT_INTAKE] = intake_src,         [SCHED_SCRIPT_CLOSE] = close_src,
    [SCHED_SCRIPT_TRANSITION] = transition_src, [SCHED_SCRIPT_JOB_GET] = job_get_src,
    [SCHED_SCRIPT_JOB_LIST] = job_list_src,     [SCHED_SCRIPT_ROUTE_APPLY] = route_apply_src,
    [SCHED_SCRIPT_PROMOTE] = promote_src,       [SCHED_SCRIPT_CLAIM] = claim_src,
    [SCHED_SCRIPT_HEARTBEAT] = heartbeat_src,   [SCHED_SCRIPT_COMPLETE] = complete_src,
    [SCHED_SCRIPT_REAP] = reap_src,             [SCHED_SCRIPT_INSPECT_CLAIM] = inspect_claim_src,
    [SCHED_SCRIPT_INSPECT_DONE] = inspect_done_src,   [SCHED_SCRIPT_UNLOCK] = unlock_src,
    [SCHED_SCRIPT_DECIDE] = decide_src,
    [SCHED_SCRIPT_OUTBOX_PUT] = outbox_put_src,   [SCHED_SCRIPT_OUTBOX_TAKE] = outbox_take_src,
    [SCHED_SCRIPT_OUTBOX_DONE] = outbox_done_src, [SCHED_SCRIPT_OUTBOX_FAIL] = outbox_fail_src,
    [SCHED_SCRIPT_ESCALATE] = escalate_src,       [SCHED_SCRIPT_CARD_POSTED] = card_posted_src,
    [SCHED_SCRIPT_REDELIVERY_CLAIM] = redelivery_claim_src,
    [SCHED_SCRIPT_REDELIVERY_MARK] = redelivery_mark_src,
    [SCHED_SCRIPT_RELEASE] = release_src,
    [SCHED_SCRIPT_IDLE_COUNT] = idle_count_src,
    [SCHED_SCRIPT_RETENTION_PURGE] = retention_purge_src,
    [SCHED_SCRIPT_RETENTION_BACKFILL] = retention_backfill_src,
    [SCHED_SCRIPT_RETENTION_DEAD] = retention_dead_src,
    [SCHED_SCRIPT_RETENTION_SWEEP] = retention_sweep_src,
};

static const char *const names[SCHED_SCRIPT_COUNT] = {
    [SCHED_SCRIPT_INTAKE] = "intake",         [SCHED_SCRIPT_CLOSE] = "close",
    [SCHED_SCRIPT_TRANSITION] = "transition", [SCHED_SCRIPT_JOB_GET] = "job_get",
    [SCHED_SCRIPT_JOB_LIST] = "job_list",     [SCHED_SCRIPT_ROUTE_APPLY] = "route_apply",
    [SCHED_SCRIPT_PROMOTE] = "promote",       [SCHED_SCRIPT_CLAIM] = "claim",
    [SCHED_SCRIPT_HEARTBEAT] = "heartbeat",   [SCHED_SCRIPT_COMPLETE] = "complete",
    [SCHED_SCRIPT_REAP] = "reap",             [SCHED_SCRIPT_INSPECT_CLAIM] = "inspect_claim",
    [SCHED_SCRIPT_INSPECT_DONE] = "inspect_done",   [SCHED_SCRIPT_UNLOCK] = "unlock",
    [SCHED_SCRIPT_DECIDE] = "decide",
    [SCHED_SCRIPT_OUTBOX_PUT] = "outbox_put",   [SCHED_SCRIPT_OUTBOX_TAKE] = "outbox_take",
    [SCHED_SCRIPT_OUTBOX_DONE] = "outbox_done", [SCHED_SCRIPT_OUTBOX_FAIL] = "outbox_fail",
    [SCHED_SCRIPT_ESCALATE] = "escalate",       [SCHED_SCRIPT_CARD_POSTED] = "card_posted",
    [SCHED_SCRIPT_REDELIVERY_CLAIM] = "redelivery_claim",
    [SCHED_SCRIPT_REDELIVERY_MARK] = "redelivery_mark",
    [SCHED_SCRIPT_RELEASE] = "release",
    [SCHED_SCRIPT_IDLE_COUNT] = "idle_count",
    [SCHED_SCRIPT_RETENTION_PURGE] = "retention_purge",
    [SCHED_SCRIPT_RETENTION_BACKFILL] = "retention_backfill",
    [SCHED_SCRIPT_RETENTION_DEAD] = "retention_dead",
    [SCHED_SCRIPT_RETENTION_SWEEP] = "retention_sweep",
};

const char *sched_script_source(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    return sources[script];
}

/* One Redis function library holding every script, so the library part is compiled once
 * per server (FUNCTION LOAD), not on every call. The sources above stay whole scripts
 * (EVAL-able, as tests read them); here each body becomes a function of its own and P, the
 * prefix, is set from ARGV[1] at its start. Redis runs one function at a time, so a
 * module-level P cannot be seen half-set. The library and function names carry a hash of
 * the sources: processes of two versions on one server each call their own. */
static char *library_text;
static char function_names[SCHED_SCRIPT_COUNT][64];
static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_build(void)
{
    const size_t skip = sizeof(LIBRARY_HEAD) - 1;
    uint64_t h = core_fnv1a(LIBRARY);
    core_buf b = {0};
    char id[24];
    int rc = 0;

    for (int i = 0; i < SCHED_SCRIPT_COUNT; i++)
        h = h * 31 + core_fnv1a(sources[i]);
    snprintf(id, sizeof(id), "zoneci_%016llx", (unsigned long long)h);
    rc |= core_buf_printf(&b, "#!lua name=%s\nlocal P\n", id);
    rc |= core_buf_append(&b, &LIBRARY[skip], sizeof(LIBRARY) - 1 - skip);
    for (int i = 0; i < SCHED_SCRIPT_COUNT; i++) {
        CORE_ASSERT(strncmp(sources[i], LIBRARY, sizeof(LIBRARY) - 1) == 0);
        snprintf(function_names[i], sizeof(function_names[i]), "%s_%s", id, names[i]);
        rc |= core_buf_printf(&b, "redis.register_function('%s', function(KEYS, ARGV)\n"
                                  "P = ARGV[1]\n%s\nend)\n",
                              function_names[i], sources[i] + sizeof(LIBRARY) - 1);
    }
    CORE_ASSERT(rc == 0);
    library_text = core_buf_steal(&b);
}

const char *sched_script_library(void)
{
    pthread_once(&library_once, library_build);
    return library_text;
}

const char *sched_script_function(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    pthread_once(&library_once, library_build);
    return function_names[script];
}

const char *sched_script_name(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    return names[script];
}
