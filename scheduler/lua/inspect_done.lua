-- KEYS: job, history, audit. ARGV: P, id, outcome ('route'|'approve'|'retry'), reason,
-- now_ms, now_iso, retry_at_ms, then for 'approve' the approval card as JSON ({region,
-- channel, mentions, oncall, plan, escalate_at}) and for 'route' the routing decision
-- ("queue|defer TAB region TAB release_ms TAB labels TAB reason"), '' for none, then
-- field/value pairs to store (risk, report, ...). Ends an inspection, only if the job is
-- still `inspecting`: 'route' with a decision queues or defers the job in this same step,
-- 'route' without one hands it to the routers (the routing set), 'approve' makes it await
-- approval and records its card, 'retry' schedules another attempt.
-- Returns {'ok'|'conflict', state}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local cur = redis.call('HGET', KEYS[1], 'state')
if cur ~= 'inspecting' then return {'conflict', cur or ''} end
local d = ARGV[3] == 'route' and ARGV[8] ~= '' and route_parse(ARGV[8])
if #ARGV > 8 then redis.call('HSET', KEYS[1], unpack(ARGV, 9)) end
if ARGV[3] == 'retry' then
    redis.call('ZADD', P .. 'inspect', ARGV[7], id)
    note(id, 'scheduler', ARGV[4], ARGV[6])
    redis.call('HSET', KEYS[1], 'reason', ARGV[4])
    return {'ok', cur}
end
redis.call('ZREM', P .. 'inspect', id)
-- From the job becoming `inspecting` (updated_at; retries do not move it) to its end.
local began = tonumber(redis.call('HGET', KEYS[1], 'updated_at'))
observe('inspection', tonumber(ARGV[5]) - (began or tonumber(ARGV[5])))
if ARGV[3] == 'approve' then
    if ARGV[8] ~= '' then card_put(id, cjson.decode(ARGV[8]), ARGV[5]) end
    transition(id, 'awaiting_approval', 'scheduler', ARGV[4], ARGV[5], ARGV[6])
elseif d then
    note(id, 'scheduler', ARGV[4], ARGV[6])
    route_to(id, d, ARGV[5], ARGV[6])
else
    redis.call('SADD', routing_key(), id)
    note(id, 'scheduler', ARGV[4], ARGV[6])
    redis.call('HSET', KEYS[1], 'reason', ARGV[4])
end
check_put(id, ARGV[5])
return {'ok', cur}
