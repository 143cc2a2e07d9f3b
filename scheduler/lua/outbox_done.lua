-- KEYS: the message hash, outbox:due. ARGV: P, id, token, now_ms, ttl (s), result.
-- Compare-and-set: only the current lease marks the message done, once; the same token
-- asking again is told 'again'. A done record expires after ttl. Returns 'ok', 'again',
-- 'missing' or 'conflict'.
check_key(KEYS[1], P .. 'outbox:' .. ARGV[2])
check_key(KEYS[2], P .. 'outbox:due')
local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if not f[1] then return 'missing' end
if f[2] ~= ARGV[3] then return 'conflict' end
if f[1] == 'done' then return 'again' end
if f[1] ~= 'pending' then return 'conflict' end
redis.call('HSET', KEYS[1], 'state', 'done', 'done_at', ARGV[4],
           'result', ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[2])
order_release(KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 'ok'
