--[[ put: set a counter's value for a token holder with `manage`, creating it when missing
  (bounds -1..1 and reset off, as /create, unless given); enable_reset does not apply.
  KEYS[1] counter hash   cnt:{ns/key}
  ARGV[1] value (int64)   ARGV[2] enable_reset (0|1, '' keep)
  ARGV[3] update_lowerbound (int64 <= 0, '' keep)   ARGV[4] update_upperbound (int64 >= 0, '' keep)
  ARGV[5] now (ms)   ARGV[6] ttl (ms)
  Returns {status, old_value, created}: 0 ok (old_value '' when created)
    | {-1, argument name} invalid argument ]]

local ZERO = int64_parse('0')
if int64_parse(ARGV[1]) == nil then return {INVALID, 'value'} end
if ARGV[2] ~= '' and ARGV[2] ~= '0' and ARGV[2] ~= '1' then return {INVALID, 'enable_reset'} end
if ARGV[3] ~= '' then
  local lower = int64_parse(ARGV[3])
  if lower == nil or int64_cmp(lower, ZERO) > 0 then return {INVALID, 'update_lowerbound'} end
end
if ARGV[4] ~= '' then
  local upper = int64_parse(ARGV[4])
  if upper == nil or int64_cmp(upper, ZERO) < 0 then return {INVALID, 'update_upperbound'} end
end
if nonneg_parse(ARGV[5]) == nil then return {INVALID, 'now'} end
if positive_parse(ARGV[6]) == nil then return {INVALID, 'ttl'} end

local old = redis.call('HGET', KEYS[1], 'value')
local created = 0
if old == false then
  created, old = 1, ''
  redis.call('HSET', KEYS[1], 'created', ARGV[5], 'enable_reset', '0',
    'update_lowerbound', '-1', 'update_upperbound', '1')
end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'updated', ARGV[5])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'enable_reset', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'update_lowerbound', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'update_upperbound', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {OK, old, created}
