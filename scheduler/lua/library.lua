-- The store's shared Lua library (scheduler/scripts.c loads it, then every script of this
-- folder as a function of its own, as one Redis function library: FUNCTION LOAD once per
-- server, FCALL per call). It names every key from the prefix P and holds the one function
-- that moves a job between states, so no script can forget the live key, the PR set or the
-- audit entry. Scripts validate before they write: Redis does not roll back a script that
-- fails.
--
-- Single slot: every key is `{P}:...`, so all of them share the `{P}` hash tag and live in
-- one Redis Cluster slot. Scripts declare the keys the caller knows in KEYS (and check_key
-- them against the layout below), but also build keys from P that the caller cannot know
-- in advance (a job's keys found in a set, the outbox hash of the message taken, ...).
-- Redis Cluster allows that only because every such key hashes to the slot of the declared
-- ones; a layout without the common hash tag would break every script that does it.
--
-- Globals: only Redis's own (redis, cjson, string, ...). Everything here is `local`, and
-- `make lint-lua` rejects any other global in the assembled library.

-- ARGV[1] of every call, the key prefix "{P}:": each function sets it first (scripts.c).
-- Redis runs one function at a time, so it is never seen half-set.
local P
-- Entries of the audit stream kept (XADD MAXLEN ~). scripts.h's SCHED_AUDIT_MAXLEN says
-- the same for C; a test checks that they agree.
local AUDIT_MAXLEN = 100000
-- FINAL must list the states sched_state_final() calls final (a test checks it).
local FINAL = {succeeded = true, failed = true, rejected = true, dead = true,
               superseded = true, cancelled = true}
local function str(v) if type(v) == 'string' then return v end return '' end
local function job_key(id) return P .. 'job:' .. id end
local function history_key(id) return P .. 'job:' .. id .. ':history' end
local function state_key(state) return P .. 'state:' .. state end
local function live_key(repo, pr, sha)
    return P .. 'live:' .. repo .. '#' .. pr .. '#' .. sha
end
local function pr_key(repo, pr) return P .. 'pr:' .. repo .. '#' .. pr end
-- The PR's newest job, final or not (intake sets it; retention deletes it with that job):
-- what `/zoneci status OWNER/REPO#PR` shows.
local function pr_last_key(repo, pr) return P .. 'pr_last:' .. repo .. '#' .. pr end
local function audit_key() return P .. 'audit' end
local function queue_key(region) return P .. 'queue:' .. region end
local function deferred_key() return P .. 'deferred' end
local function routing_key() return P .. 'routing' end
local function leases_key() return P .. 'leases' end
local function ready_channel() return P .. 'ready' end
local function pr_lock_key(repo, pr) return P .. 'lock:pr:' .. repo .. '#' .. pr end
local function migration_lock_key(repo) return P .. 'lock:migration:' .. repo end
-- Build locks hold "JOB:LEASE"; release and extend only when that is still the value
-- (compare-and-delete / compare-and-extend), so a stale holder can never free or
-- prolong a lock someone else now holds.
local function job_locks(id)
    local f = redis.call('HMGET', job_key(id), 'repo', 'pr', 'migration')
    if not f[1] then return {} end
    local keys = {pr_lock_key(f[1], f[2])}
    if f[3] == '1' then keys[2] = migration_lock_key(f[1]) end
    return keys
end
local function release_locks(id, lease)
    for _, k in ipairs(job_locks(id)) do
        if redis.call('GET', k) == id .. ':' .. lease then redis.call('DEL', k) end
    end
end
-- A lease ends: its locks are freed and the runners of the region hear of it (a job
-- kept waiting by those locks may be claimable now). region: the job's, when the caller
-- has read it already (nil: read here).
local function end_lease(id, lease, region)
    release_locks(id, lease)
    redis.call('ZREM', leases_key(), id)
    if region == nil then region = redis.call('HGET', job_key(id), 'region') end
    if region and region ~= '' then redis.call('PUBLISH', ready_channel(), region) end
end
local function extend_locks(id, lease, ms)
    for _, k in ipairs(job_locks(id)) do
        if redis.call('GET', k) == id .. ':' .. lease then
            redis.call('PEXPIRE', k, ms)
        end
    end
end
-- Whether a runner token may act in region: allowed is '*' (every region) or the
-- token's regions joined by '|'. The lease scripts check it before anything else, so a
-- token of another region changes nothing (webhooks/runners.c answers 403).
local function region_ok(allowed, region)
    if allowed == '*' then return true end
    for r in string.gmatch(allowed, '[^|]+') do
        if r == region then return true end
    end
    return false
end
-- Fleet-wide counters and histograms (scheduler/sched_metrics.h): one hash, bumped by
-- the scripts that already run at each event, so every process's /metrics reads the same
-- totals in the one round trip of metrics.lua. Histograms keep one field per bucket
-- (NAME:bI, not cumulative; I is #bounds + 1 for +Inf), NAME:sum_ms and NAME:count.
local function metrics_key() return P .. 'metrics' end
-- Bucket upper bounds in milliseconds. metrics.lua returns them, so C never restates them.
local HISTOGRAMS = {
    decision = {60000, 300000, 900000, 1800000, 3600000, 7200000, 14400000, 28800000,
                86400000},
    inspection = {100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000}}
local function count(field, n) redis.call('HINCRBY', metrics_key(), field, n or 1) end
local function observe(name, ms)
    local bounds = HISTOGRAMS[name]
    ms = math.floor(tonumber(ms) or 0)
    if ms < 0 then ms = 0 end
    local i = #bounds + 1
    for b, le in ipairs(bounds) do
        if ms <= le then i = b break end
    end
    count(name .. ':b' .. i)
    count(name .. ':sum_ms', ms)
    count(name .. ':count')
end
-- A key the client declared must be the one the library would build: this catches
-- C and Lua drifting apart before anything is written.
local function check_key(got, want)
    if got ~= want then error('zoneci: key layout mismatch: ' .. tostring(got)) end
end
-- An outbound message, due now (scheduler.h, the outbox). Messages with the same
-- order key go out one after the other, oldest first: `outbox:order:KEY` lists the
-- pending ones, and only its head may be taken (a later status must not land first
-- and be overwritten by an older one).
local function order_key(o) return P .. 'outbox:order:' .. o end
local function outbox_add(kind, payload, now_ms, order)
    local oid = tostring(redis.call('INCR', P .. 'outbox:seq'))
    redis.call('HSET', P .. 'outbox:' .. oid, 'kind', kind, 'payload', payload,
               'attempts', 0, 'created_at', now_ms, 'last_error', '',
               'state', 'pending', 'token', '', 'order', order or '')
    if order and order ~= '' then redis.call('RPUSH', order_key(order), oid) end
    redis.call('ZADD', P .. 'outbox:due', now_ms, oid)
    return oid
end
local function order_release(hk, oid)
    local o = redis.call('HGET', hk, 'order')
    if o and o ~= '' then redis.call('LREM', order_key(o), 1, oid) end
end
-- Every change of state of a job that came through a GitHub App installation puts a
-- commit status in the outbox, in the same atomic step: a status is never lost and
-- never sent for a change that did not happen. The routers keep config:statuses set
-- to whether the App is configured. The words say where the job is and why.
local GH_STATE = {succeeded = 'success', failed = 'failure', rejected = 'failure',
                  dead = 'error', superseded = 'error', cancelled = 'error'}
local function status_words(id, to, reason)
    local f = redis.call('HMGET', job_key(id), 'runner', 'region', 'approval_region',
                         'approval_oncall')
    if to == 'awaiting_approval' and f[3] and f[3] ~= '' then
        local s = 'Awaiting approval in ' .. f[3]
        if f[4] and f[4] ~= '' then s = s .. ' (on call: ' .. f[4] .. ')' end
        return s
    elseif to == 'leased' then return 'Running on ' .. str(f[1]) .. ' in ' .. str(f[2])
    elseif to == 'succeeded' then return 'Succeeded on ' .. str(f[1])
    elseif to == 'failed' then return 'Failed on ' .. str(f[1])
    end
    return (string.gsub(reason, '^%l', string.upper))
end
local function status_put(id, to, reason, now_ms, now_iso)
    if redis.call('GET', P .. 'config:statuses') ~= '1' then return end
    local f = redis.call('HMGET', job_key(id), 'installation_id', 'repo', 'head_sha')
    if not f[1] or f[1] == '' or f[1] == '0' or not f[2] or not f[3] then return end
    local url = redis.call('GET', P .. 'config:public_url') or ''
    local msg = {installation_id = tonumber(f[1]), repo = f[2], sha = f[3],
                 state = GH_STATE[to] or 'pending', description = status_words(id, to, reason)}
    if url ~= '' then msg.target_url = url .. '/jobs/' .. id end
    outbox_add('github_status', cjson.encode(msg), now_ms,
               'gh:' .. f[2] .. '@' .. f[3])
    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,
               'event', 'status', 'state', msg.state, 'reason', msg.description,
               'at', now_iso)
end
-- The job's check run on GitHub ("zoneci / migrations", notifier/checks.c): put when its
-- inspection starts, when it ends and when the job is decided or ends undecided. The
-- message carries only the id: the run is brought up to date with the job as it is when
-- delivered, so one order key (`check:ID`) keeps the creation before its updates.
local function check_put(id, now_ms)
    if redis.call('GET', P .. 'config:statuses') ~= '1' then return end
    local inst = redis.call('HGET', job_key(id), 'installation_id')
    if not inst or inst == '' or inst == '0' then return end
    outbox_add('github_check', cjson.encode({job_id = id}), now_ms, 'check:' .. id)
end
-- Approval cards (scheduler/approval.c). Card N of a job lives in the job's hash as
-- card:N:region|channel|mentions|at|ts; `cards` counts them: the regions asked, which
-- escalation reads. A card is posted by the outbox (slack_card, rendered from the job
-- when delivered) only when it has a channel (approval.c leaves it empty without a
-- `slack` section or a region's slack_channel); `cards_sent` counts those, and is what
-- the job's JSON calls `cards`. slack_card_update re-renders the first `cards` cards, so
-- they show the job's latest word; it is queued only when a card was sent, since with
-- nothing in Slack it could only retry and die.
local function card_put(id, c, now_ms)
    local jk = job_key(id)
    local n = redis.call('HINCRBY', jk, 'cards', 1) - 1
    local k = 'card:' .. n .. ':'
    redis.call('HSET', jk, k .. 'region', c.region, k .. 'channel', c.channel or '',
               k .. 'mentions', c.mentions or '', k .. 'at', now_ms,
               'approval_region', c.region, 'approval_oncall', c.oncall or '')
    if c.plan and c.plan ~= '' then redis.call('HSET', jk, 'approval_plan', c.plan) end
    local sent = 0
    if c.channel and c.channel ~= '' then
        outbox_add('slack_card', cjson.encode({job_id = id, card = n}), now_ms,
                   'card:' .. id)
        sent = 1
    end
    redis.call('HINCRBY', jk, 'cards_sent', sent) -- by 0 too: the field says "counted"
    if c.escalate_at and c.escalate_at > 0 then
        redis.call('ZADD', P .. 'escalate', c.escalate_at, id)
    else
        redis.call('ZREM', P .. 'escalate', id)
    end
    return n
end
local function cards_update(id, n, now_ms)
    -- A job from before cards_sent existed has no such field: its cards were all sent.
    if n > 0 and redis.call('HGET', job_key(id), 'cards_sent') ~= '0' then
        outbox_add('slack_card_update', cjson.encode({job_id = id, cards = n}), now_ms,
                   'card:' .. id)
    end
end
-- Moves job id to `to`: both state sets, reason and updated_at, a history entry, an
-- audit entry and a commit status; on a final state it also drops the live key and the
-- PR set entry. Returns the previous state, or false and why (missing job, or a final
-- one: final jobs never move). A job being created has state '' and no state set yet.
local function transition(id, to, actor, reason, now_ms, now_iso)
    local jk = job_key(id)
    local cur = redis.call('HMGET', jk, 'state', 'repo', 'pr', 'head_sha', 'region')
    local from = cur[1]
    if not from then return false, 'missing' end
    if FINAL[from] then return false, from end
    if from ~= '' then redis.call('ZREM', state_key(from), id) end
    redis.call('ZADD', state_key(to), id, id)
    redis.call('HSET', jk, 'state', to, 'reason', reason, 'updated_at', now_ms)
    redis.call('RPUSH', history_key(id), cjson.encode({at = now_iso, state = to,
                                                       actor = actor, reason = reason}))
    if FINAL[to] and cur[2] and cur[3] and cur[4] then
        local lk = live_key(cur[2], cur[3], cur[4])
        if redis.call('GET', lk) == id then redis.call('DEL', lk) end
        redis.call('SREM', pr_key(cur[2], cur[3]), id)
    end
    -- A final job waits nowhere: not in a region queue, deferred, or due for routing;
    -- `finished` (score = when) is what retention deletes it by (retention.c).
    if FINAL[to] then
        redis.call('ZADD', P .. 'finished', now_ms, id)
        local region = cur[5] -- transition itself never changes it
        if region and region ~= '' then redis.call('ZREM', queue_key(region), id) end
        redis.call('ZREM', deferred_key(), id)
        redis.call('SREM', routing_key(), id)
    end
    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,
               'from', from, 'state', to, 'actor', actor, 'reason', reason,
               'at', now_iso)
    if from == 'awaiting_approval' then
        redis.call('ZREM', P .. 'escalate', id)
        -- superseded or cancelled undecided: its cards lose their buttons
        if FINAL[to] and to ~= 'rejected' then
            cards_update(id, tonumber(redis.call('HGET', jk, 'cards') or '0'), now_ms)
        end
    end
    status_put(id, to, reason, now_ms, now_iso)
    if FINAL[to] and (from == 'inspecting' or from == 'awaiting_approval') then
        check_put(id, now_ms)
    end
    return from
end
-- States a job passes through inside one script before the transition that ends it
-- there (intake of a job with nothing to inspect: received, inspecting, then queued).
-- Each gets the history and audit entry transition would write; the state sets, reason,
-- updated_at and commit status are left to that last transition, which overwrites them
-- anyway. The caller has written the last state passed into the job's hash.
local function pass_through(id, from, steps, now_iso)
    local entries = {}
    for i, s in ipairs(steps) do
        entries[i] = cjson.encode({at = now_iso, state = s[1], actor = s[2], reason = s[3]})
        redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,
                   'from', from, 'state', s[1], 'actor', s[2], 'reason', s[3],
                   'at', now_iso)
        from = s[1]
    end
    redis.call('RPUSH', history_key(id), unpack(entries))
end
-- A history and audit entry without a change of state.
local function note(id, actor, reason, now_iso)
    local state = redis.call('HGET', job_key(id), 'state') or ''
    redis.call('RPUSH', history_key(id), cjson.encode({at = now_iso, state = state,
                                                       actor = actor, reason = reason}))
    redis.call('XADD', audit_key(), 'MAXLEN', '~', AUDIT_MAXLEN, '*', 'job', id,
               'from', state, 'state', state, 'actor', actor, 'reason', reason,
               'at', now_iso)
end
-- A routing decision made in C, as one string: "queue|defer TAB region TAB release_ms
-- TAB labels TAB reason". Parsed before anything is written.
local function route_parse(s)
    local kind, region, release, labels, why =
        string.match(s, '^(%a+)\t([^\t]*)\t(%d+)\t([^\t]*)\t(.*)$')
    if kind ~= 'queue' and kind ~= 'defer' then
        error('zoneci: malformed routing decision')
    end
    return {kind = kind, region = region, release = release, labels = labels, why = why}
end
-- A routing decision applied: into a region's queue (runners of the region hear of
-- it) or deferred until release. The caller has taken the job out of wherever it
-- waited and checked it is still where it saw it.
local function route_to(id, d, now_ms, now_iso)
    local jk = job_key(id)
    if d.kind == 'queue' then
        redis.call('HSET', jk, 'region', d.region, 'deferred_until', '',
                   'labels', d.labels)
        redis.call('ZADD', queue_key(d.region), id, id)
        transition(id, 'queued', 'scheduler', d.why, now_ms, now_iso)
        redis.call('PUBLISH', ready_channel(), d.region)
        return 'queued'
    end
    redis.call('HSET', jk, 'region', '', 'deferred_until', d.release)
    redis.call('ZADD', deferred_key(), d.release, id)
    transition(id, 'deferred', 'scheduler', d.why, now_ms, now_iso)
    return 'deferred'
end
-- History as a flat list (at, state, actor, reason per entry) so that the client
-- never parses JSON written by Lua; an entry that does not decode is shown whole as
-- its reason rather than hidden.
local function history_flat(id)
    local out = {}
    for _, raw in ipairs(redis.call('LRANGE', history_key(id), 0, -1)) do
        local ok, e = pcall(cjson.decode, raw)
        if ok and type(e) == 'table' then
            out[#out + 1] = str(e.at)
            out[#out + 1] = str(e.state)
            out[#out + 1] = str(e.actor)
            out[#out + 1] = str(e.reason)
        else
            out[#out + 1] = ''
            out[#out + 1] = ''
            out[#out + 1] = ''
            out[#out + 1] = raw
        end
    end
    return out
end
