-- KEYS: job, history, audit. ARGV: P, id, expected state, expected region ('*' for any),
-- 'queue'|'defer', region, release_at_ms, reason, now_ms, now_iso, '1' when the job must
-- be due for routing (a released deferral), the labels runners need (comma-separated).
-- Moves the job out of wherever it waits (a
-- region queue, the deferred set, the routing set) into its new place, atomically and
-- only if it is still where the caller saw it. Returns {'ok'|'missing'|'conflict', state}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local cur = redis.call('HMGET', KEYS[1], 'state', 'region')
if not cur[1] then return {'missing', ''} end
local region = cur[2] or ''
if cur[1] ~= ARGV[3] or (ARGV[4] ~= '*' and region ~= ARGV[4]) then
    return {'conflict', cur[1]}
end
if ARGV[11] == '1' and redis.call('SISMEMBER', routing_key(), id) == 0 then
    return {'conflict', cur[1]}
end
if region ~= '' then redis.call('ZREM', queue_key(region), id) end
redis.call('ZREM', deferred_key(), id)
redis.call('SREM', routing_key(), id)
route_to(id, {kind = ARGV[5], region = ARGV[6], release = ARGV[7], labels = ARGV[12],
              why = ARGV[8]}, ARGV[9], ARGV[10])
return {'ok', cur[1]}
