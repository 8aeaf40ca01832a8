--[[ export_fail: end a running export in error, either by its own worker or, from any
  instance, because its worker stopped renewing the lease (it died or lost Redis).
  KEYS[1] export job hash       cnt:exp:{ns}:<id>
  KEYS[2] export gzip payload   cnt:exp:{ns}:<id>:gz
  ARGV[1] worker id, or '' to fail the job only if its lease has run out
  ARGV[2] error text   ARGV[3] now (ms)
  Returns {status}: 0 failed now | 1 not running, not ours, or its lease still holds
    | {-1, argument name} invalid argument ]]

if type(ARGV[1]) ~= 'string' then return {INVALID, 'worker'} end
if type(ARGV[2]) ~= 'string' or ARGV[2] == '' then return {INVALID, 'error'} end
local now = nonneg_parse(ARGV[3])
if now == nil then return {INVALID, 'now'} end

local job = redis.call('HMGET', KEYS[1], 'state', 'worker', 'lease_until')
if job[1] ~= 'running' then return {MISSING} end
if ARGV[1] ~= '' and job[2] ~= ARGV[1] then return {MISSING} end
local lease = int64_parse(job[3])
if ARGV[1] == '' and lease ~= nil and int64_cmp(lease, now) > 0 then return {MISSING} end
redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[2], 'finished_at', ARGV[3])
redis.call('HDEL', KEYS[1], 'worker', 'lease_until')
redis.call('DEL', KEYS[2])
return {OK}
