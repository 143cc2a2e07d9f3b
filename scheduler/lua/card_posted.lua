-- KEYS: job. ARGV: P, id, card number, ts. Remembers where card N was posted, once: a
-- second post of the same card (a retried delivery) finds it there. Returns 1 when
-- recorded, 0 when the card already had a ts, false for a missing job.
check_key(KEYS[1], job_key(ARGV[2]))
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HSETNX', KEYS[1], 'card:' .. ARGV[3] .. ':ts', ARGV[4])
