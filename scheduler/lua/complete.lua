-- KEYS: job, history, audit. ARGV: P, id, lease id, 'success'|'failure', runner,
-- now_ms, now_iso. Ends a leased job once; the same lease asking again is told 'done'
-- with the state the first report left (nothing changes), any other lease 'lost'. A job
-- superseded or cancelled under this lease is not completed, but its lease ends here:
-- its locks are freed at once, so the PR's new build does not wait for the lease to run
-- out. Returns {'ok'|'done'|'lost'|'superseded', state}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id', 'completed_lease')
if not f[1] or ARGV[3] == '' then return {'lost', f[1] or ''} end
if f[3] == ARGV[3] then return {'done', f[1]} end
if (f[1] == 'superseded' or f[1] == 'cancelled') and f[2] == ARGV[3] then
    end_lease(id, ARGV[3])
    redis.call('HSET', KEYS[1], 'lease_id', '')
    return {'superseded', f[1]}
end
if f[1] ~= 'leased' or f[2] ~= ARGV[3] then return {'lost', f[1]} end
local to = ARGV[4] == 'success' and 'succeeded' or 'failed'
redis.call('HSET', KEYS[1], 'completed_lease', ARGV[3])
end_lease(id, ARGV[3])
transition(id, to, 'runner:' .. ARGV[5], 'runner ' .. ARGV[5] .. ' reported ' ..
           ARGV[4], ARGV[6], ARGV[7])
return {'ok', to}
