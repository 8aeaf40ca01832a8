--[[ set: replace the value of a counter created with enable_reset.
  KEYS[1] counter hash   cnt:{ns/key}
  ARGV[1] value (int64)   ARGV[2] now (ms)   ARGV[3] ttl (ms)
  Returns {status, old_value}: 0 ok | 1 missing | 5 reset disabled (old_value unchanged)
    | {INVALID, argument name} invalid argument ]]

if int64_parse(ARGV[1]) == nil then return {INVALID, 'value'} end
if nonneg_parse(ARGV[2]) == nil then return {INVALID, 'now'} end
if positive_parse(ARGV[3]) == nil then return {INVALID, 'ttl'} end

local fields = redis.call('HMGET', KEYS[1], 'value', 'enable_reset')
if fields[1] == false then return {MISSING} end
if fields[2] ~= '1' then return {RESET_DISABLED, fields[1]} end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'updated', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {OK, fields[1]}
