-- KEYS: deferred, routing, audit. ARGV: P, now_ms, now_iso, limit. Moves deferrals that
-- are due into the routing set. ZREM succeeds for one caller only, so however many
-- processes race, each job is released once. Returns the released ids.
check_key(KEYS[1], deferred_key())
check_key(KEYS[2], routing_key())
check_key(KEYS[3], audit_key())
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0,
                       tonumber(ARGV[4]))
for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('SADD', KEYS[2], id)
    note(id, 'scheduler', 'released for routing: deferral ended', ARGV[3])
end
return ids
