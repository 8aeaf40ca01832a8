--[[ set: replace the value of a counter created with enable_reset (history keeps the past).
  Library: status, int64, history
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  ARGV[1] value (int64)   ARGV[2] ttl (ms)
  Returns {status, old_value}: 0 ok | 1 missing | 5 reset disabled (old_value unchanged)
    | {6} migrate (pre-0.2 layout) | {-1, argument name} invalid argument ]]

if int64_parse(ARGV[1]) == nil then return {INVALID, 'value'} end
if positive_parse(ARGV[2]) == nil then return {INVALID, 'ttl'} end

local fields = redis.call('HMGET', KEYS[1], 'value', 'enable_reset', 'hh', 'hv')
local current = fields[1]
if current == false then return {MISSING} end
if fields[2] ~= '1' then return {RESET_DISABLED, current} end
if fields[3] == false then return {MIGRATE} end
-- Keep the pending hour's count (value - hv) across the jump in value. No hv: created by a
-- hit and no history yet; a string under its name is an earlier counter's (hit.lua).
local old_hv = fields[4]
if old_hv == false then
  old_hv = '0'
  redis.call('DEL', KEYS[2])
end
local history = history_lib()
local hv = history.add(old_hv, history.add(ARGV[1], history.neg(current)))
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'hv', history.text(hv))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], string.format('%.0f', ARGV[2] + 3600000))
return {OK, current}
