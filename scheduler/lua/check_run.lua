-- KEYS: job. ARGV: P, id, check run id, annotations sent. Remembers the job's check run
-- on GitHub and how many of its annotations GitHub took, so that a retried delivery
-- updates that run and sends only the rest. The count never goes back: an older
-- delivery's answer cannot undo a newer one's. Returns 1, or false for a missing job.
check_key(KEYS[1], job_key(ARGV[2]))
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local sent = tonumber(redis.call('HGET', KEYS[1], 'check_annotated') or '0') or 0
if tonumber(ARGV[4]) > sent then sent = tonumber(ARGV[4]) end
redis.call('HSET', KEYS[1], 'check_run_id', ARGV[3], 'check_annotated', sent)
return 1
