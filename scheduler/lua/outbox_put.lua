-- KEYS: outbox:seq, outbox:due, the dedup key (outbox:seq again when there is none).
-- ARGV: P, kind, payload, now_ms, '1' when a dedup key is given, its ttl (s). Records a
-- message, due at once; a dedup key already seen answers the first message's id.
-- Returns {id, 1 if created else 0}.
check_key(KEYS[1], P .. 'outbox:seq')
check_key(KEYS[2], P .. 'outbox:due')
if ARGV[5] == '1' then
    local seen = redis.call('GET', KEYS[3])
    if seen then return {seen, 0} end
end
local id = outbox_add(ARGV[2], ARGV[3], ARGV[4])
if ARGV[5] == '1' then redis.call('SET', KEYS[3], id, 'EX', ARGV[6]) end
return {id, 1}
