-- KEYS: job, history, audit. ARGV: P, id, the number of cards the caller saw, the next
-- card as JSON (as in inspect_done; region '' when there is nowhere left to go), now_ms,
-- now_iso, reason. Escalates a job still awaiting a decision and due for escalation,
-- once however many routers race (the card count and the due time are the
-- compare-and-set): the next card is recorded and
-- posted, the earlier ones are updated to say so, a history, audit and status entry
-- tell where it went. Returns 'ok', 'none' (nowhere to go: escalation ends), 'gone'
-- (decided or no longer awaiting approval) or 'raced'.
local id = ARGV[2]
check_key(KEYS[1], job_key(id))
check_key(KEYS[2], history_key(id))
check_key(KEYS[3], audit_key())
local f = redis.call('HMGET', KEYS[1], 'state', 'decision', 'cards')
if f[1] ~= 'awaiting_approval' or (f[2] and f[2] ~= '') then
    redis.call('ZREM', P .. 'escalate', id)
    return 'gone'
end
if str(f[3]) ~= ARGV[3] then return 'raced' end
-- Another router may have escalated it between our read and this script: then
-- the count matches its new card, but the next escalation is not due yet.
local due = redis.call('ZSCORE', P .. 'escalate', id)
if not due or tonumber(due) > tonumber(ARGV[5]) then return 'raced' end
local c = cjson.decode(ARGV[4])
note(id, 'scheduler', ARGV[7], ARGV[6])
if c.region == '' then
    redis.call('ZREM', P .. 'escalate', id)
    return 'none'
end
local n = card_put(id, c, ARGV[5])
cards_update(id, n, ARGV[5])
status_put(id, 'awaiting_approval', ARGV[7], ARGV[5], ARGV[6])
return 'ok'
