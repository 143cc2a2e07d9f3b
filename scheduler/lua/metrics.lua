-- KEYS: metrics, outbox:due, outbox:dead. ARGV: P, now_ms, idle since ms, scan limit,
-- number of states S, S state names, then region names. Read-only: everything /metrics
-- shows from Redis, in one round trip (sched_metrics_read). Single slot: the per-state,
-- per-region and job keys read here are built from P, like every script's (library.lua).
-- The oldest queued job and the oldest pending message are looked for among the first
-- `scan limit` entries of their set (claim order, due order), so a scrape costs the same
-- however deep the queues are. Returns {state counts}, {per region: depth, ms since the
-- oldest queued job was queued or -1, idle runners}, {outbox pending, dead, ms since the
-- oldest pending message was created or -1}, {leases granted, expired then requeued,
-- expired then dead, reaped}, then per histogram (decision, inspection): {bounds ms},
-- {per-bucket counts, the last one +Inf}, sum ms, count.
check_key(KEYS[1], metrics_key())
check_key(KEYS[2], P .. 'outbox:due')
check_key(KEYS[3], P .. 'outbox:dead')
local now, since, limit = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local ns = tonumber(ARGV[5])
local states, regions = {}, {}
for i = 1, ns do states[i] = redis.call('ZCARD', state_key(ARGV[5 + i])) end
for i = 6 + ns, #ARGV do
    local q, r = queue_key(ARGV[i]), ARGV[i]
    local oldest = -1
    for _, id in ipairs(redis.call('ZRANGE', q, 0, limit - 1)) do
        local at = tonumber(redis.call('HGET', job_key(id), 'updated_at'))
        if at and (oldest < 0 or now - at > oldest) then oldest = now - at end
    end
    -- Runners whose last claim found nothing within the idle window, per token (the
    -- layout claim.lua writes and idle_count.lua reads), without the label filter.
    local idle = 0
    for _, tok in ipairs(redis.call('ZRANGEBYSCORE', P .. 'idlet:' .. r, since, '+inf')) do
        idle = idle + redis.call('ZCOUNT', P .. 'idle:' .. r .. ':' .. tok, since, '+inf')
    end
    regions[#regions + 1] = {redis.call('ZCARD', q), oldest, idle}
end
local old_msg = -1
for _, oid in ipairs(redis.call('ZRANGE', KEYS[2], 0, limit - 1)) do
    local at = tonumber(redis.call('HGET', P .. 'outbox:' .. oid, 'created_at'))
    if at and (old_msg < 0 or now - at > old_msg) then old_msg = now - at end
end
local m = KEYS[1]
local function n(field) return tonumber(redis.call('HGET', m, field)) or 0 end
local out = {states, regions,
             {redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), old_msg},
             {n('leases_granted'), n('leases_expired:requeued'), n('leases_expired:dead'),
              n('leases_reaped')}}
for _, name in ipairs({'decision', 'inspection'}) do
    local buckets = {}
    for i = 1, #HISTOGRAMS[name] + 1 do buckets[i] = n(name .. ':b' .. i) end
    out[#out + 1] = {HISTOGRAMS[name], buckets, n(name .. ':sum_ms'), n(name .. ':count')}
end
return out
