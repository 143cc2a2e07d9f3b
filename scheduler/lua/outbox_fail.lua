-- KEYS: the message hash, outbox:due, outbox:dead. ARGV: P, id, token, error, retry_at,
-- max_attempts (0: never dead), now_ms. Only the current lease may fail a message: it is
-- due again at retry_at, or dead once its attempts reach max_attempts. The token is
-- cleared, so a second fail of the same lease changes nothing. Returns 'retry', 'dead',
-- 'missing' or 'conflict'.
check_key(KEYS[1], P .. 'outbox:' .. ARGV[2])
check_key(KEYS[2], P .. 'outbox:due')
check_key(KEYS[3], P .. 'outbox:dead')
local f = redis.call('HMGET', KEYS[1], 'state', 'token', 'attempts')
if not f[1] then return 'missing' end
if f[1] ~= 'pending' or f[2] ~= ARGV[3] or ARGV[3] == '' then
    return 'conflict'
end
redis.call('HSET', KEYS[1], 'last_error', ARGV[4], 'token', '')
local max = tonumber(ARGV[6])
if max > 0 and tonumber(f[3]) >= max then
    redis.call('HSET', KEYS[1], 'state', 'dead', 'dead_at', ARGV[7])
    redis.call('ZREM', KEYS[2], ARGV[2])
    redis.call('ZADD', KEYS[3], ARGV[7], ARGV[2])
    order_release(KEYS[1], ARGV[2])
    return 'dead'
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
return 'retry'
