-- KEYS: finished, jobs. ARGV: P, horizon_ms, limit. Deletes jobs that finished
-- before the horizon, oldest first, each with every key and index entry that names it:
-- hash, history, the listing and state sets, the live key, PR set and PR's last job (already gone for a
-- final job, but an older version may have left them), every queue and schedule. A job in
-- `finished` that is not final (never written so; only by hand) leaves the index and stays.
-- Deleting an already deleted job changes nothing, so racing passes are harmless.
-- Returns {deleted, examined}.
check_key(KEYS[1], P .. 'finished')
check_key(KEYS[2], P .. 'jobs')
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT',
                       0, tonumber(ARGV[3]))
local n = 0
for _, id in ipairs(ids) do
    local jk = job_key(id)
    local f = redis.call('HMGET', jk, 'state', 'repo', 'pr', 'head_sha', 'region')
    if not f[1] or FINAL[f[1]] then
        if f[1] then redis.call('ZREM', state_key(f[1]), id) end
        redis.call('ZREM', KEYS[2], id)
        if f[2] and f[3] then
            redis.call('SREM', pr_key(f[2], f[3]), id)
            local last = pr_last_key(f[2], f[3])
            if redis.call('GET', last) == id then redis.call('DEL', last) end
            if f[4] then
                local lk = live_key(f[2], f[3], f[4])
                if redis.call('GET', lk) == id then redis.call('DEL', lk) end
            end
        end
        if f[5] and f[5] ~= '' then redis.call('ZREM', queue_key(f[5]), id) end
        redis.call('ZREM', deferred_key(), id)
        redis.call('SREM', routing_key(), id)
        redis.call('ZREM', leases_key(), id)
        redis.call('ZREM', P .. 'inspect', id)
        redis.call('ZREM', P .. 'escalate', id)
        redis.call('DEL', jk, history_key(id))
        if f[1] then n = n + 1 end
    end
    redis.call('ZREM', KEYS[1], id)
end
return {n, #ids}
