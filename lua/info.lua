--[[ info: read a counter and its metadata together with the time it has left.
  KEYS[1] counter hash   cnt:{ns/key}
  ARGV none
  Returns {status, value, created, enable_reset, update_lowerbound, update_upperbound, ttl_ms}:
    status 0 ok | {1} missing ]]

if #ARGV ~= 0 then return {INVALID, 'argv'} end
local fields = redis.call('HMGET', KEYS[1], 'value', 'created', 'enable_reset',
  'update_lowerbound', 'update_upperbound')
if fields[1] == false then return {MISSING} end
return {OK, fields[1], fields[2], fields[3], fields[4], fields[5], redis.call('PTTL', KEYS[1])}
