-- KEYS: job, history, audit. ARGV: P, id, lease id, fencing token, runner, why, now_ms,
-- now_iso. A lease handed out but never used (the runner's connection closed before the
-- answer reached it, or the runner was stopping): only the current lease with its own
-- fencing token may give the job back, before anyone else holds it. The job returns to
-- its place in its region's queue (the queue is ordered by id, and it was the oldest
-- claimable job there when it was taken) and the attempt it cost is given back, so a
-- runner that never started the job does not use up one of its attempts. A job that was
-- superseded or cancelled meanwhile only has its lease ended (its locks freed). Returns
-- {'ok', state after} or {'lost', state}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id', 'fencing_token',
                     'region', 'attempts')
if not f[1] or ARGV[3] == '' or f[2] ~= ARGV[3] or f[3] ~= ARGV[4] then
    return {'lost', f[1] or ''}
end
if f[1] == 'superseded' or f[1] == 'cancelled' then
    end_lease(id, ARGV[3])
    redis.call('HSET', KEYS[1], 'lease_id', '')
    return {'ok', f[1]}
end
if f[1] ~= 'leased' or not f[4] or f[4] == '' then return {'lost', f[1]} end
local n = tonumber(f[5]) or 1
if n > 0 then n = n - 1 end
redis.call('HSET', KEYS[1], 'lease_id', '', 'attempts', n)
redis.call('ZADD', queue_key(f[4]), id, id)
transition(id, 'queued', 'runner:' .. ARGV[5], 'released unused by runner ' ..
           ARGV[5] .. ' (' .. ARGV[6] .. '): back in the ' .. f[4] ..
           ' queue, attempt not counted', ARGV[7], ARGV[8])
-- After the job is back in its queue, so that the wake-up finds it.
end_lease(id, ARGV[3])
return {'ok', 'queued'}
