-- KEYS: job, history, audit. ARGV: P, id, 'approve'|'reject', actor, reason, now_ms,
-- now_iso, the decision time in the decider's region ("2026-03-09 10:30 JST"), '1' to
-- check the card key (a Slack click) or '', the key the card carried ('' for a card
-- without one). A checked key that is not the job's `card_key` ('' for a job from
-- before card keys) is a card of another job that had the same id before Redis was
-- wiped: {'stale', state}, nothing changes. Only a
-- job awaiting approval and not decided yet can be decided; the decision is recorded in
-- the job with who and when, its cards are updated and its escalation ends. Approving
-- hands the job to the routers (the routing set; its state changes when a router
-- applies a decision), rejecting ends it. Returns {'ok', state after} or {'missing', ''}
-- or {'conflict', state, decision, by}.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local cur = redis.call('HMGET', KEYS[1], 'state', 'decision', 'decided_by', 'updated_at')
if not cur[1] then return {'missing', ''} end
if ARGV[9] == '1' and str(redis.call('HGET', KEYS[1], 'card_key')) ~= ARGV[10]
then
    return {'stale', cur[1]}
end
if cur[1] ~= 'awaiting_approval' or (cur[2] and cur[2] ~= '') then
    return {'conflict', cur[1], str(cur[2]), str(cur[3])}
end
-- updated_at is when the job began awaiting approval: nothing else moves it meanwhile.
observe('decision', tonumber(ARGV[6]) - (tonumber(cur[4]) or tonumber(ARGV[6])))
local decision = 'rejected'
if ARGV[3] == 'approve' then decision = 'approved' end
redis.call('HSET', KEYS[1], 'decision', decision, 'decided_by', ARGV[4],
           'decided_at', ARGV[6], 'decided_local', ARGV[8], 'decided_reason', ARGV[5])
redis.call('ZREM', P .. 'escalate', id)
cards_update(id, tonumber(redis.call('HGET', KEYS[1], 'cards') or '0'), ARGV[6])
if decision == 'approved' then
    redis.call('HSET', KEYS[1], 'reason', ARGV[5])
    note(id, ARGV[4], ARGV[5], ARGV[7])
    redis.call('SADD', routing_key(), id)
    status_put(id, 'approved', ARGV[5], ARGV[6], ARGV[7])
    check_put(id, ARGV[6])
    return {'ok', 'awaiting_approval'}
end
transition(id, 'rejected', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return {'ok', 'rejected'}
