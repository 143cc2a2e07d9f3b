-- KEYS: outbox:due. ARGV: P, now_ms, lease_ms, token, page size, most pages. Takes the
-- message due first whose order is free and leases it: its score becomes now + lease (a
-- crashed worker's message comes back then), its token the new one, its attempts one
-- more. A message waiting behind an older one of its order is passed over: each order's
-- head is read once per call (LINDEX) and only that message may go, whatever its place
-- in `outbox:due` (equal scores sort by id as text, "10" before "9", and a retried head
-- may come after a later message of its order); the scan goes on page after
-- page (at most `most pages`), so statuses piled up behind one order (a GitHub outage)
-- never hold back a message of another order (a Slack card). Entries whose hash is gone
-- or no longer pending are dropped on the way. Returns false or {id, kind, payload,
-- attempts, created_at}.
check_key(KEYS[1], P .. 'outbox:due')
local page, pages = tonumber(ARGV[5]), tonumber(ARGV[6])
local heads, offset = {}, 0
for _ = 1, pages do
    local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2],
                           'LIMIT', offset, page)
    for _, id in ipairs(ids) do
        local hk = P .. 'outbox:' .. id
        local f = redis.call('HMGET', hk, 'state', 'kind', 'payload', 'created_at',
                             'order')
        local o = f[5] or ''
        local blocked = false
        if f[1] == 'pending' and o ~= '' then
            if heads[o] == nil then heads[o] = redis.call('LINDEX', order_key(o), 0) or false end
            blocked = heads[o] ~= id
        end
        if blocked then
            -- an older message of its order is still out: wait behind it
            offset = offset + 1
        elseif f[1] == 'pending' then
            redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), id)
            local n = redis.call('HINCRBY', hk, 'attempts', 1)
            redis.call('HSET', hk, 'token', ARGV[4])
            return {id, f[2], f[3], n, f[4]}
        else
            redis.call('ZREM', KEYS[1], id)
        end
    end
    if #ids < page then break end
end
return false
