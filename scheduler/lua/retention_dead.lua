-- KEYS: outbox:dead. ARGV: P, horizon_ms, limit. Drops dead letters that died before the
-- horizon, record and index entry. A record that is no longer dead (retried by hand) only
-- leaves the index. Returns the number dropped.
check_key(KEYS[1], P .. 'outbox:dead')
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT',
                       0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
    local hk = P .. 'outbox:' .. id
    local st = redis.call('HGET', hk, 'state')
    if not st or st == 'dead' then redis.call('DEL', hk) end
    redis.call('ZREM', KEYS[1], id)
end
return #ids
