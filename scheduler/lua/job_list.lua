-- KEYS: an index sorted set ({P}:jobs or {P}:state:NAME, score = id). ARGV: P, max score
-- ('+inf' or '(ID'), limit. Fetches one id more than the page to learn whether another
-- page follows. Returns {next cursor or nil, {{hash, history}, ...}}.
local limit = tonumber(ARGV[3])
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], '-inf', 'LIMIT', 0,
                       limit + 1)
local jobs, next_cursor = {}, false
for i, id in ipairs(ids) do
    if i > limit then
        next_cursor = ids[limit]
        break
    end
    local h = redis.call('HGETALL', job_key(id))
    if #h > 0 then jobs[#jobs + 1] = {h, history_flat(id)} end
end
return {next_cursor, jobs}
