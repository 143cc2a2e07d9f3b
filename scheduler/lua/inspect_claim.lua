-- KEYS: state:received, inspect schedule, audit. ARGV: P, now_ms, now_iso, lease ms.
-- Takes one job to inspect: a retry or an abandoned inspection that is due (the schedule
-- holds when each may be taken up again), else the oldest received job, which becomes
-- `inspecting`. Its score becomes now + lease, so a crashed inspector's job returns.
-- Returns false or {id, repo, pr, head_sha, base_sha, clone_url, inspect_attempts,
-- installation_id}: what the inspector needs, without another round trip.
local function view(id)
    local f = redis.call('HMGET', job_key(id), 'repo', 'pr', 'head_sha', 'base_sha',
                         'clone_url', 'inspect_attempts', 'installation_id')
    return {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7]}
end
check_key(KEYS[1], state_key('received'))
check_key(KEYS[2], P .. 'inspect')
check_key(KEYS[3], audit_key())
local due_at = tonumber(ARGV[2]) + tonumber(ARGV[4])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2],
                               'LIMIT', 0, 5)) do
    if redis.call('HGET', job_key(id), 'state') == 'inspecting' then
        redis.call('ZADD', KEYS[2], due_at, id)
        return view(id)
    end
    redis.call('ZREM', KEYS[2], id)
end
local ids = redis.call('ZRANGE', KEYS[1], 0, 0)
if #ids == 0 then return false end
local id = ids[1]
transition(id, 'inspecting', 'scheduler', 'reading the pull request diff',
           ARGV[2], ARGV[3])
check_put(id, ARGV[2])
redis.call('ZADD', KEYS[2], due_at, id)
return view(id)
