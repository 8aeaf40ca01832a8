--[[ restore: write one counter from a snapshot line, replacing whatever is there.
  Library: status, int64, history
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  KEYS[3] daily hash of the layout before 0.2   cnt:{ns/key}:d (deleted; the old hourly
    hashes expire within 8 days by themselves)
  ARGV[1] value (int64)   ARGV[2] created (ms)   ARGV[3] enable_reset (0|1)
  ARGV[4] update_lowerbound (int64 <= 0)   ARGV[5] update_upperbound (int64 >= 0)
  ARGV[6] daily history: JSON array of strings, alternating day (days since 1970) and count (int64)
  ARGV[7] hour (hours since 1970, UTC)   ARGV[8] ttl (ms)
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
  if nonneg_parse(daily[i]) == nil or int64_parse(daily[i + 1]) == nil then
    return {INVALID, 'daily'}
  end
end
if nonneg_parse(ARGV[7]) == nil then return {INVALID, 'hour'} end
if positive_parse(ARGV[8]) == nil then return {INVALID, 'ttl'} end

local replaced = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'created', ARGV[2], 'enable_reset', ARGV[3],
  'update_lowerbound', ARGV[4], 'update_upperbound', ARGV[5], 'hh', ARGV[7], 'hv', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if #daily > 0 then
  local lib = history_lib()
  local history = lib.load(false, ARGV[8])
  for i = 1, #daily, 2 do lib.add_day(history, tonumber(daily[i]), daily[i + 1]) end
  lib.save(KEYS[2], history, ARGV[8])
end
if replaced > 0 then replaced = 1 end
return {OK, replaced}
