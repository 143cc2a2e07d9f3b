-- KEYS: job, history. ARGV: P, id. Returns nil or {hash as a flat list, history}.
check_key(KEYS[1], job_key(ARGV[2]))
check_key(KEYS[2], history_key(ARGV[2]))
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
return {h, history_flat(ARGV[2])}
