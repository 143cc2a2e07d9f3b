-- KEYS: queue of the region, leases, fence counter, audit. ARGV: P, region, runner,
-- runner labels (comma-separated), lease id, lease ms, now_ms, now_iso, how many queued
-- jobs to look at, the runner token's id, idle names kept per token, idle window ms. Takes the oldest queued job whose labels the runner has and whose
-- build locks are free: it leaves the queue, takes its locks (SET NX PX, "JOB:LEASE"),
-- a fencing token (INCR) and a lease recorded by expiry. A job kept waiting by a lock
-- says so in its reason. A runner that finds nothing is recorded as idle in its region,
-- under its token: `idle:REGION:TOKEN` (zset, score = last poll) with its labels in
-- `idle:REGION:TOKEN:labels`, the token in `idlet:REGION` (score = last poll). Names
-- older than the window leave when the token brings a new name, a token keeps its most
-- recent names only, and the keys expire with the window, so one token cannot make a region look busy with idle runners.
-- Returns the number of queued jobs passed over for want of a label (0: none) or {id,
-- fencing token, lease expiry ms, attempt, job hash as a flat list, history flat} (the
-- job as job_get gives it, so the claim's answer carries the job in one round trip): the long poll passes its wake-up on to
-- another waiter only when a job was left for a runner with other labels.
check_key(KEYS[1], queue_key(ARGV[2]))
check_key(KEYS[2], leases_key())
check_key(KEYS[3], P .. 'fence')
check_key(KEYS[4], audit_key())
local now, lease_ms = tonumber(ARGV[7]), tonumber(ARGV[6])
local idle_tok = P .. 'idle:' .. ARGV[2] .. ':' .. ARGV[10]
local idle_lab = idle_tok .. ':labels'
local have = {}
for l in string.gmatch(ARGV[4], '[^,]+') do have[l] = true end
local function labels_ok(need)
    for l in string.gmatch(need or '', '[^,]+') do
        if not have[l] then return false end
    end
    return true
end
local passed = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[9]) - 1)) do
    local jk = job_key(id)
    local f = redis.call('HMGET', jk, 'state', 'repo', 'pr', 'labels', 'migration',
                         'reason')
    if f[1] ~= 'queued' then
        redis.call('ZREM', KEYS[1], id)
    elseif not labels_ok(f[4]) then
        passed = passed + 1
    else
        local locks = {pr_lock_key(f[2], f[3])}
        if f[5] == '1' then locks[2] = migration_lock_key(f[2]) end
        local held = false
        for i, k in ipairs(locks) do
            local v = redis.call('GET', k)
            if v then
                held = (i == 1 and ('build lock of ' .. f[2] .. '#' .. f[3])
                        or ('migration lock of ' .. f[2])) ..
                       ' held by job ' .. string.match(v, '^[^:]*')
                break
            end
        end
        if held then
            local why = 'queued in ' .. ARGV[2] .. ', waiting: ' .. held
            if f[6] ~= why then redis.call('HSET', jk, 'reason', why) end
        else
            redis.call('ZREM', KEYS[1], id)
            for _, k in ipairs(locks) do
                redis.call('SET', k, id .. ':' .. ARGV[5], 'NX', 'PX', lease_ms)
            end
            local fence = redis.call('INCR', KEYS[3])
            local attempt = redis.call('HINCRBY', jk, 'attempts', 1)
            local expires = now + lease_ms
            redis.call('HSET', jk, 'lease_id', ARGV[5], 'lease_expires', expires,
                       'runner', ARGV[3], 'fencing_token', fence)
            redis.call('ZADD', KEYS[2], expires, id)
            redis.call('ZREM', idle_tok, ARGV[3])
            redis.call('HDEL', idle_lab, ARGV[3])
            count('leases_granted')
            transition(id, 'leased', 'runner:' .. ARGV[3],
                       'claimed by runner ' .. ARGV[3] .. ' in ' .. ARGV[2] ..
                       ' (attempt ' .. attempt .. ', fencing token ' .. fence .. ')',
                       ARGV[7], ARGV[8])
            return {id, fence, expires, attempt, redis.call('HGETALL', jk),
                    history_flat(id)}
        end
    end
end
local window, keep = tonumber(ARGV[12]), tonumber(ARGV[11])
redis.call('HSET', idle_lab, ARGV[3], ARGV[4])
-- Pruning only when a name is new to the token: a runner polling again (the usual case)
-- does not grow the set, so it cannot push it past `keep`, and names older than the
-- window are skipped by idle_count (it reads from `since` on) until the next new name
-- prunes them or the keys expire.
if redis.call('ZADD', idle_tok, now, ARGV[3]) == 1 then
    local gone = redis.call('ZRANGEBYSCORE', idle_tok, '-inf', '(' .. (now - window))
    local n = redis.call('ZCARD', idle_tok) - #gone
    if n > keep then
        for _, r in ipairs(redis.call('ZRANGE', idle_tok, #gone, #gone + n - keep - 1)) do
            gone[#gone + 1] = r
        end
    end
    for _, r in ipairs(gone) do
        redis.call('ZREM', idle_tok, r)
        redis.call('HDEL', idle_lab, r)
    end
end
redis.call('PEXPIRE', idle_tok, window)
redis.call('PEXPIRE', idle_lab, window)
-- idlet:REGION holds one member per runner token (tokens are few, from the config): old
-- ones need no pruning, idle_count skips them by score and the key expires.
local tk = P .. 'idlet:' .. ARGV[2]
redis.call('ZADD', tk, now, ARGV[10])
redis.call('PEXPIRE', tk, window)
return passed
