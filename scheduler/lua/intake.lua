-- KEYS: delivery, seq, jobs, live, pr set, audit.
-- ARGV: P, dedup ttl, now_ms, now_iso, reason, the routing decision when the job needs no
-- inspection ('' otherwise; see route_parse), then the job's field/value pairs (repo, pr,
-- head_sha, ... delivery). Returns {outcome, job id, superseded id, superseded n, state}.
local ttl, now_ms, now_iso, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local route = ARGV[6] ~= '' and route_parse(ARGV[6])
local f = {}
for i = 7, #ARGV - 1, 2 do f[ARGV[i]] = ARGV[i + 1] end
check_key(KEYS[4], live_key(f.repo, f.pr, f.head_sha))
check_key(KEYS[5], pr_key(f.repo, f.pr))
check_key(KEYS[6], audit_key())
local seen = redis.call('GET', KEYS[1])
if seen then return {'duplicate', seen, '', 0} end
local live = redis.call('GET', KEYS[4])
-- A check run's "Re-run" (rerun_of = the job it reported on) inspects the commit again,
-- live job or not, but never behind the back of a newer push: only the PR's newest job
-- may be run again.
if f.rerun_of and f.rerun_of ~= '' then
    if redis.call('GET', pr_last_key(f.repo, f.pr)) ~= f.rerun_of then
        redis.call('SET', KEYS[1], '-', 'EX', ttl)
        return {'stale', '-', '', 0}
    end
    live = nil
end
-- A live key always names a non-final job; the check only guards against
-- keys left by hand or by an older version.
if live then
    local st = redis.call('HGET', job_key(live), 'state')
    if st and not FINAL[st] then
        redis.call('SET', KEYS[1], live, 'EX', ttl)
        return {'live', live, '', 0}
    end
end
local id = string.format('%d', redis.call('INCR', KEYS[2]))
-- Nothing to inspect (no migration policy) and a decision that needs no loads: the job
-- passes received and inspecting and is routed in this same step, so only the last step
-- touches the state sets and puts a commit status (GitHub shows the newest per commit).
redis.call('HSET', job_key(id), 'id', id, 'state', route and 'inspecting' or '',
           'region', '', 'attempts', '0', 'created_at', now_ms, 'updated_at', now_ms,
           unpack(ARGV, 7))
redis.call('ZADD', KEYS[3], id, id)
redis.call('SET', KEYS[4], id)
redis.call('SADD', KEYS[5], id)
redis.call('SET', pr_last_key(f.repo, f.pr), id)
if route then
    pass_through(id, '', {{'received', 'github', reason},
                          {'inspecting', 'scheduler',
                           'nothing to inspect: no migration policy for this repository'}},
                 now_iso)
else
    transition(id, 'received', 'github', reason, now_ms, now_iso)
end
local why = 'superseded by job ' .. id .. ' (head ' .. string.sub(f.head_sha, 1, 7) .. ')'
local superseded, n = '', 0
for _, other in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if other ~= id then
        if transition(other, 'superseded', 'github', why, now_ms, now_iso) then
            n = n + 1
            if superseded == '' or tonumber(other) > tonumber(superseded) then
                superseded = other
            end
        else
            redis.call('SREM', KEYS[5], other)
        end
    end
end
local state = route and route_to(id, route, now_ms, now_iso) or 'received'
redis.call('SET', KEYS[1], id, 'EX', ttl)
return {'created', id, superseded, n, state}
