-- KEYS: job, history, audit. ARGV: P, id, expected state or '', to, actor, reason,
-- now_ms, now_iso. Returns {'ok'|'missing'|'conflict', state before}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'missing', ''} end
if (ARGV[3] ~= '' and cur ~= ARGV[3]) or FINAL[cur] then
    return {'conflict', cur}
end
transition(id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return {'ok', cur}
