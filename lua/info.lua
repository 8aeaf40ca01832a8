--[[ info: read a counter and its metadata together with the time it has left.
  Library: status
  KEYS[1] counter hash   cnt:{ns/key}
  ARGV none
  Returns {status, value, created, enable_reset, update_lowerbound, update_upperbound, ttl_ms}:
    status 0 ok | {1} missing. Options a hit-created counter leaves out read as 0, 0, 1. ]]

if #ARGV ~= 0 then return {INVALID, 'argv'} end
local fields = redis.call('HMGET', KEYS[1], 'value', 'created', 'enable_reset',
  'update_lowerbound', 'update_upperbound')
if fields[1] == false then return {MISSING} end
return {OK, fields[1], fields[2], fields[3] or '0', fields[4] or '0', fields[5] or '1',
  redis.call('PTTL', KEYS[1])}
