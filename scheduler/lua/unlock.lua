-- KEYS: a lock. ARGV: P, token. Compare-and-delete: only the holder frees it.
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
