-- KEYS: a set or sorted set of job ids, retention. ARGV: P, 'set'|'zset', count. One
-- step of a SCAN over the set (the cursor is `sweep:KEY` in the retention hash): ids whose
-- job hash is gone are removed. Returns the number removed.
check_key(KEYS[2], P .. 'retention')
check_key(string.sub(KEYS[1], 1, #P), P)
local field = 'sweep:' .. KEYS[1]
local cur = redis.call('HGET', KEYS[2], field) or '0'
local zset = ARGV[2] == 'zset'
local r = redis.call(zset and 'ZSCAN' or 'SSCAN', KEYS[1], cur, 'COUNT', ARGV[3])
local n, step = 0, zset and 2 or 1
for i = 1, #r[2], step do
    local id = r[2][i]
    if redis.call('EXISTS', job_key(id)) == 0 then
        redis.call(zset and 'ZREM' or 'SREM', KEYS[1], id)
        n = n + 1
    end
end
redis.call('HSET', KEYS[2], field, r[1])
return n
