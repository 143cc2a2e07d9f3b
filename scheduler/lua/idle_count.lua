-- KEYS: idlet:REGION. ARGV: P, region, since ms, required labels (comma-separated), most
-- names counted per token. Read-only: the runners seen idle in the region since `since`
-- whose labels include every required one, each token counting for at most the given
-- number of names. Returns the count.
check_key(KEYS[1], P .. 'idlet:' .. ARGV[2])
local need = {}
for l in string.gmatch(ARGV[4], '[^,]+') do need[#need + 1] = l end
local cap, total = tonumber(ARGV[5]), 0
for _, tok in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf')) do
    local k = P .. 'idle:' .. ARGV[2] .. ':' .. tok
    local c = 0
    for _, r in ipairs(redis.call('ZRANGEBYSCORE', k, ARGV[3], '+inf')) do
        local have = {}
        for l in string.gmatch(redis.call('HGET', k .. ':labels', r) or '',
                               '[^,]+') do
            have[l] = true
        end
        local ok = true
        for _, l in ipairs(need) do
            if not have[l] then ok = false break end
        end
        if ok then c = c + 1 end
    end
    if c > cap then c = cap end
    total = total + c
end
return total
