--[[ read_history: a counter's stored history and its pending hour, read together.
  Library: status
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  ARGV none
  Returns {status, value, hh, hv, history}: 0 ok (history '' when none) | {1} missing
    | {6} migrate (pre-0.2 layout). The pending hour hh holds value - hv. A counter without
    hv (created by a hit, no history written yet) reads as hv 0 and no history: a string
    under its name was an earlier counter's. ]]

if #ARGV ~= 0 then return {INVALID, 'argv'} end
local fields = redis.call('HMGET', KEYS[1], 'value', 'hh', 'hv')
if fields[1] == false then return {MISSING} end
if fields[2] == false then return {MIGRATE} end
if fields[3] == false then return {OK, fields[1], fields[2], '0', ''} end
return {OK, fields[1], fields[2], fields[3], redis.call('GET', KEYS[2]) or ''}
