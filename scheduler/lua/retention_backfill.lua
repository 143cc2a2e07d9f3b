-- KEYS: finished, retention. ARGV: P, limit, now_ms, rescan_ms. Indexes final jobs that
-- are missing from `finished`: those that became final before it existed, or under a
-- process of an older version during a rolling upgrade. Each final state set is walked by
-- id (the cursor is `backfill:STATE` in the retention hash, 'done' at the end) and its jobs
-- join `finished` scored by updated_at, which a final job never changes. NX: a time written
-- by transition() is never replaced. Once every state is done (`backfill:at`), the walk
-- starts over rescan_ms later. Returns the number of jobs looked at.
check_key(KEYS[1], P .. 'finished')
check_key(KEYS[2], P .. 'retention')
local STATES = {'cancelled', 'dead', 'failed', 'rejected', 'succeeded', 'superseded'}
local now = tonumber(ARGV[3])
local function all_done()
    for _, st in ipairs(STATES) do
        if redis.call('HGET', KEYS[2], 'backfill:' .. st) ~= 'done' then
            return false
        end
    end
    return true
end
if all_done() then
    local at = tonumber(redis.call('HGET', KEYS[2], 'backfill:at') or '0') or 0
    if now - at < tonumber(ARGV[4]) then return 0 end
    for _, st in ipairs(STATES) do redis.call('HDEL', KEYS[2], 'backfill:' .. st) end
end
local left = tonumber(ARGV[2])
local seen = 0
for _, st in ipairs(STATES) do
    local field = 'backfill:' .. st
    local cur = redis.call('HGET', KEYS[2], field) or '0'
    if cur ~= 'done' and left > 0 then
        local ids = redis.call('ZRANGEBYSCORE', state_key(st), '(' .. cur, '+inf',
                               'LIMIT', 0, left)
        for _, id in ipairs(ids) do
            local f = redis.call('HMGET', job_key(id), 'updated_at', 'created_at')
            local at = tonumber(f[1] or '') or tonumber(f[2] or '') or now
            redis.call('ZADD', KEYS[1], 'NX', at, id)
        end
        seen = seen + #ids
        if #ids < left then
            redis.call('HSET', KEYS[2], field, 'done')
        else
            redis.call('HSET', KEYS[2], field, ids[#ids])
        end
        left = left - #ids
    end
end
if all_done() then redis.call('HSET', KEYS[2], 'backfill:at', ARGV[3]) end
return seen
