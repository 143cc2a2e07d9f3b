-- KEYS: redelivery:mark. ARGV: P, id, ttl (s). Raises the mark, never lowers it. Returns
-- the mark after.
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local id = tonumber(ARGV[2])
if id > cur then
    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
    return ARGV[2]
end
return tostring(cur)
