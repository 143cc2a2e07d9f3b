-- KEYS: job, history, audit. ARGV: P, id, lease id, 'success'|'failure', runner ('': the
-- runner the job's hash names, 'unknown' if none), now_ms, now_iso, regions the runner
-- token may act in ('*' or 'a|b'). Refuses first, writing nothing, a job that is missing
-- ({'missing'}) or in a region the token may not serve ({'forbidden', region}). Ends a leased job once; the same lease asking again is told 'done'
-- with the state the first report left (nothing changes), any other lease 'lost'. A job
-- superseded or cancelled under this lease is not completed, but its lease ends here:
-- its locks are freed at once, so the PR's new build does not wait for the lease to run
-- out. Returns {'ok'|'done'|'lost'|'superseded', state, runner}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local f = redis.call('HMGET', KEYS[1], 'state', 'lease_id', 'completed_lease', 'region',
                     'runner')
if not f[4] then return {'missing'} end
if not region_ok(ARGV[8], f[4]) then return {'forbidden', f[4]} end
local runner = ARGV[5] ~= '' and ARGV[5] or f[5] or 'unknown'
if not f[1] or ARGV[3] == '' then return {'lost', f[1] or '', runner} end
if f[3] == ARGV[3] then return {'done', f[1], runner} end
if (f[1] == 'superseded' or f[1] == 'cancelled') and f[2] == ARGV[3] then
    end_lease(id, ARGV[3], f[4])
    redis.call('HSET', KEYS[1], 'lease_id', '')
    return {'superseded', f[1], runner}
end
if f[1] ~= 'leased' or f[2] ~= ARGV[3] then return {'lost', f[1], runner} end
local to = ARGV[4] == 'success' and 'succeeded' or 'failed'
redis.call('HSET', KEYS[1], 'completed_lease', ARGV[3])
end_lease(id, ARGV[3], f[4])
transition(id, to, 'runner:' .. runner, 'runner ' .. runner .. ' reported ' ..
           ARGV[4], ARGV[6], ARGV[7])
return {'ok', to, runner}
