--[[ export_progress: the owning worker appends gzip bytes and rows, renews its lease,
  and with ARGV[6] = 1 finishes the job. A worker that lost the job (marked failed) is refused.
  KEYS[1] export job hash       cnt:exp:{ns}:<id>
  KEYS[2] export gzip payload   cnt:exp:{ns}:<id>:gz
  ARGV[1] worker id   ARGV[2] gzip bytes to append (may be empty)   ARGV[3] rows added (int >= 0)
  ARGV[4] last hit id written (int >= 0)   ARGV[5] now (ms)   ARGV[6] finish (0|1)
  ARGV[7] lease until (ms)   ARGV[8] retention (ms > 0)   ARGV[9] payload hash ('' unless finishing)
  Returns {status, size}: 0 ok (size: payload bytes so far) | 1 job missing or not ours
    | {-1, argument name} invalid argument ]]

if type(ARGV[1]) ~= 'string' or ARGV[1] == '' then return {INVALID, 'worker'} end
if type(ARGV[2]) ~= 'string' then return {INVALID, 'chunk'} end
if nonneg_parse(ARGV[3]) == nil then return {INVALID, 'rows'} end
if nonneg_parse(ARGV[4]) == nil then return {INVALID, 'last_hit_id'} end
if nonneg_parse(ARGV[5]) == nil then return {INVALID, 'now'} end
if ARGV[6] ~= '0' and ARGV[6] ~= '1' then return {INVALID, 'finish'} end
if nonneg_parse(ARGV[7]) == nil then return {INVALID, 'lease_until'} end
if positive_parse(ARGV[8]) == nil then return {INVALID, 'retention'} end

local job = redis.call('HMGET', KEYS[1], 'state', 'worker')
if job[1] ~= 'running' or job[2] ~= ARGV[1] then return {MISSING, 0} end
local size = redis.call('APPEND', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'num_rows', ARGV[3])
redis.call('HSET', KEYS[1], 'last_hit_id', ARGV[4], 'lease_until', ARGV[7])
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'finished', 'finished_at', ARGV[5], 'size', size,
    'hash', ARGV[9])
  redis.call('HDEL', KEYS[1], 'worker', 'lease_until')
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
end
redis.call('PEXPIRE', KEYS[2], ARGV[8])
return {OK, size}
