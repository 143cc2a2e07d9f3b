-- KEYS: delivery, pr set, audit. ARGV: P, dedup ttl, now_ms, now_iso, repo, pr.
-- Returns {outcome, stored job id, cancelled n}.
check_key(KEYS[2], pr_key(ARGV[5], ARGV[6]))
check_key(KEYS[3], audit_key())
local seen = redis.call('GET', KEYS[1])
if seen then return {'duplicate', seen, 0} end
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if transition(id, 'cancelled', 'github', 'pull request closed', ARGV[3],
                  ARGV[4]) then
        n = n + 1
    else
        redis.call('SREM', KEYS[2], id)
    end
end
redis.call('SET', KEYS[1], '-', 'EX', ARGV[2])
return {'closed', '', n}
