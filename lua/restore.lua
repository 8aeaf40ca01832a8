--[[ restore: write one counter from a snapshot line, replacing whatever is there.
  KEYS[1] counter hash    cnt:{ns/key}
  KEYS[2] daily buckets   cnt:{ns/key}:d
  ARGV[1] value (int64)   ARGV[2] created (ms)   ARGV[3] enable_reset (0|1)
  ARGV[4] update_lowerbound (int64 <= 0)   ARGV[5] update_upperbound (int64 >= 0)
  ARGV[6] daily history: JSON array of strings, alternating day (yyyymmdd) and count (int64)
  ARGV[7] now (ms)   ARGV[8] ttl (ms)
  Returns {status, replaced}: 0 ok (replaced 1 when a counter was there)
    | {-1, argument name} invalid argument ]]

local ZERO = int64_parse('0')
if int64_parse(ARGV[1]) == nil then return {INVALID, 'value'} end
if nonneg_parse(ARGV[2]) == nil then return {INVALID, 'created'} end
if ARGV[3] ~= '0' and ARGV[3] ~= '1' then return {INVALID, 'enable_reset'} end
local lower, upper = int64_parse(ARGV[4]), int64_parse(ARGV[5])
if lower == nil or int64_cmp(lower, ZERO) > 0 then return {INVALID, 'update_lowerbound'} end
if upper == nil or int64_cmp(upper, ZERO) < 0 then return {INVALID, 'update_upperbound'} end
local ok, daily = pcall(cjson.decode, ARGV[6])
if not ok or type(daily) ~= 'table' or #daily % 2 ~= 0 then return {INVALID, 'daily'} end
for i = 1, #daily, 2 do
  if type(daily[i]) ~= 'string' or string.match(daily[i], '^%d%d%d%d%d%d%d%d$') == nil then
    return {INVALID, 'daily'}
  end
  if int64_parse(daily[i + 1]) == nil then return {INVALID, 'daily'} end
end
if nonneg_parse(ARGV[7]) == nil then return {INVALID, 'now'} end
if positive_parse(ARGV[8]) == nil then return {INVALID, 'ttl'} end

local replaced = redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'created', ARGV[2], 'updated', ARGV[7],
  'enable_reset', ARGV[3], 'update_lowerbound', ARGV[4], 'update_upperbound', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
-- HSET in slices: unpack of a long history would overflow the Lua stack.
for i = 1, #daily, 400 do
  redis.call('HSET', KEYS[2], unpack(daily, i, math.min(i + 399, #daily)))
end
if #daily > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[8]) end
if replaced > 0 then replaced = 1 end
return {OK, replaced}
