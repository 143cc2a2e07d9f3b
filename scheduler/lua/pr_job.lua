-- KEYS: the PR's last-job key, the PR set. ARGV: P, repo, pr. Read-only. The PR's newest
-- job: the one intake recorded last, else (a PR whose jobs predate that key) the newest of
-- its live ones. Returns nil or {hash as a flat list, history}, as job_get.
check_key(KEYS[1], pr_last_key(ARGV[2], ARGV[3]))
check_key(KEYS[2], pr_key(ARGV[2], ARGV[3]))
local id = redis.call('GET', KEYS[1])
if not id then
    for _, other in ipairs(redis.call('SMEMBERS', KEYS[2])) do
        if not id or tonumber(other) > tonumber(id) then id = other end
    end
end
if not id then return false end
local h = redis.call('HGETALL', job_key(id))
if #h == 0 then return false end
return {h, history_flat(id)}
