-- KEYS: job, leases, audit. ARGV: P, id, lease id, lease ms, now_ms, regions the runner
-- token may act in ('*' or 'a|b'). Refuses first, writing nothing, a job that is missing
-- ({'missing'}) or in a region the token may not serve ({'forbidden', region}): one round
-- trip authorizes and heartbeats. Extends a valid lease
-- and its locks. A lease is alive only while all its build locks are: when one has
-- expired (its runner was silent longer than the lease) the heartbeat is refused, the
-- lease is not extended and the reaper puts the job back; the locks are not taken again,
-- since another build of the PR or a migration of the repository may already hold them or
-- have run. Returns {'ok', expiry}, {'cancel', state} when the job was superseded or
-- cancelled under this lease, {'lost', state} or {'lost', state, lock key, holder}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], leases_key())
check_key(KEYS[3], audit_key())
local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id', 'region')
if not f[3] then return {'missing'} end
if not region_ok(ARGV[6], f[3]) then return {'forbidden', f[3]} end
if not f[1] or f[2] ~= ARGV[3] or ARGV[3] == '' then
    return {'lost', f[1] or ''}
end
-- Superseded or cancelled under this lease: the locks were kept until the
-- runner hears it, so two builds of one PR never overlap.
if f[1] == 'superseded' or f[1] == 'cancelled' then
    end_lease(id, ARGV[3])
    return {'cancel', f[1]}
end
if f[1] ~= 'leased' then return {'lost', f[1]} end
for _, k in ipairs(job_locks(id)) do
    local v = redis.call('GET', k)
    if v ~= id .. ':' .. ARGV[3] then
        return {'lost', f[1], string.sub(k, #P + 1),
                v and string.match(v, '^[^:]*') or ''}
    end
end
local expires = tonumber(ARGV[5]) + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lease_expires', expires)
redis.call('ZADD', KEYS[2], expires, id)
extend_locks(id, ARGV[3], ARGV[4])
return {'ok', tostring(expires)}
