--[[ create: make a new counter with its options; never touches an existing one.
  Library: status, int64
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  ARGV[1] value (int64)   ARGV[2] enable_reset (0|1)   ARGV[3] update_lowerbound (int64 <= 0)
  ARGV[4] update_upperbound (int64 >= 0)   ARGV[5] now (ms)   ARGV[6] ttl (ms)
  ARGV[7] hour (hours since 1970, UTC)
  Returns {status}: 0 created | 4 exists | {-1, argument name} invalid argument ]]

local ZERO = int64_parse('0')
if int64_parse(ARGV[1]) == nil then return {INVALID, 'value'} end
if ARGV[2] ~= '0' and ARGV[2] ~= '1' then return {INVALID, 'enable_reset'} end
local lower, upper = int64_parse(ARGV[3]), int64_parse(ARGV[4])
if lower == nil or int64_cmp(lower, ZERO) > 0 then return {INVALID, 'update_lowerbound'} end
if upper == nil or int64_cmp(upper, ZERO) < 0 then return {INVALID, 'update_upperbound'} end
if nonneg_parse(ARGV[5]) == nil then return {INVALID, 'now'} end
if positive_parse(ARGV[6]) == nil then return {INVALID, 'ttl'} end
if nonneg_parse(ARGV[7]) == nil then return {INVALID, 'hour'} end

if redis.call('EXISTS', KEYS[1]) == 1 then return {EXISTS} end
-- hv = value: the starting value is not a hit of the pending hour
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'created', ARGV[5], 'enable_reset', ARGV[2],
  'update_lowerbound', ARGV[3], 'update_upperbound', ARGV[4], 'hh', ARGV[7], 'hv', ARGV[1])
-- fh: hit.lua's fast path, for a counter whose bounds allow a hit (see docs/architecture.md)
if ARGV[4] ~= '0' then redis.call('HSET', KEYS[1], 'fh', ARGV[7]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('DEL', KEYS[2])
return {OK}
