-- KEYS: delivery:GUID, redelivery:asked:GUID. ARGV: P, now_ms, ttl (s). A GUID intake
-- recorded is never asked for; one asked for is asked once. Returns 'accepted', 'asked'
-- or 'ask' (now recorded as asked).
if redis.call('EXISTS', KEYS[1]) == 1 then return 'accepted' end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 'ask' end
return 'asked'
