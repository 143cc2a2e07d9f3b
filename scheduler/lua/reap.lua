-- KEYS: leases, audit. ARGV: P, now_ms, now_iso, max attempts, limit. Leases not renewed
-- in time: the job goes back to its region's queue (its locks freed), or is dead after
-- max attempts. Counts every lease it removes (leases_reaped) and, of those, the ones
-- that expired under a job still leased (leases_expired:requeued|dead). Returns
-- {requeued, dead}.
check_key(KEYS[1], leases_key())
check_key(KEYS[2], audit_key())
local requeued, dead = 0, 0
local max = tonumber(ARGV[4])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT',
                               0, tonumber(ARGV[5]))) do
    redis.call('ZREM', KEYS[1], id)
    local jk = job_key(id)
    local f = redis.call('HMGET', jk, 'state', 'attempts', 'region', 'lease_id',
                         'runner')
    if FINAL[f[1]] then
        -- superseded or cancelled while leased, and the runner never came back
        end_lease(id, f[4] or '')
        count('leases_reaped')
    elseif f[1] == 'leased' then
        end_lease(id, f[4] or '')
        count('leases_reaped')
        redis.call('HSET', jk, 'lease_id', '')
        local n = tonumber(f[2]) or 0
        local silent = 'lease expired: runner ' .. (f[5] or '?') .. ' stopped renewing'
        if n >= max then
            transition(id, 'dead', 'scheduler', silent .. ' on attempt ' .. n ..
                       ' of ' .. max .. '; no attempts left', ARGV[2], ARGV[3])
            dead = dead + 1
            count('leases_expired:dead')
        else
            redis.call('ZADD', queue_key(f[3]), id, id)
            transition(id, 'queued', 'scheduler', silent .. '; back in the ' ..
                       f[3] .. ' queue after attempt ' .. n .. ' of ' .. max,
                       ARGV[2], ARGV[3])
            redis.call('PUBLISH', ready_channel(), f[3])
            requeued = requeued + 1
            count('leases_expired:requeued')
        end
    end
end
return {requeued, dead}
