--[[ hit_full: add n (one per hit) to a counter, creating it first (value 0, reset off,
  bounds 0..1) when missing: the whole hit operation, for the cases hit.lua answers FULL (a
  new or late hour, a counter that refuses hits or predates field fh), and usable alone (the
  naive baseline in bench/ sends only this).
  Library: status, history
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  ARGV[1] n, the hits (integer > 0)   ARGV[2] hour of the hits (hours since 1970, UTC)
  ARGV[3] ttl (ms)   ARGV[4] now (ms; the creation time when this call creates the counter)
  Returns value: the counter after the hits (the common case: a bare integer, or its exact
    text above 2^53; a reply table costs Redis more than the rest of the hit)
    | {status, value, created}: 0 ok with created 1 (this call made the counter)
    | 2 out of bounds | 3 overflow (value unchanged)
    | {6} migrate: the counter has the pre-0.2 layout (the Store migrates it and calls again)
  The Store builds every argument from Python integers, so no path checks them; Redis's own
  HINCRBY refuses an int64 overflow. ]]

local counter, n, hour, ttl = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
-- The steady state, as in hit.lua (a caller that sends only this script gets it too): field fh
-- equals the hour only when the counter exists in the current layout, its pending hour hh is
-- this hour and its bounds allow a hit (fh is absent otherwise; see docs/architecture.md).
if redis.call('HGET', counter, 'fh') == hour then
  local value = redis.pcall('HINCRBY', counter, 'value', n)
  if type(value) == 'number' then
    redis.call('PEXPIRE', counter, ttl)
    -- Above 2^53 the Lua number HINCRBY returned is rounded: answer Redis's exact text instead.
    if value < 9007199254740992 and value > -9007199254740992 then return value end
    return redis.call('HGET', counter, 'value')
  end
  -- refused, nothing written: an overflow, or Redis cannot write now (OOM, READONLY...)
  if string.find(value.err, 'overflow', 1, true) then
    return {OVERFLOW, redis.call('HGET', counter, 'value'), 0}
  end
  return value
end

-- Everything else reads the fields: a new counter, the first hit of a later hour, a late hit,
-- a counter that refuses hits, one from before fh or before 0.2.
local fields = redis.call('HMGET', counter, 'value', 'update_upperbound', 'hh')
local current, upper, pending = fields[1], fields[2], fields[3]
if current == false then
  -- As hit.lua creates it: bounds, enable_reset and hv left out (0..1, off, hv 0 and no
  -- history of its own yet: a string left by an earlier counter of the name is ignored).
  redis.call('HSET', counter, 'value', n, 'created', ARGV[4], 'hh', hour, 'fh', hour)
  redis.call('PEXPIRE', counter, ttl)
  return {OK, n, 1}
end
if upper == '0' then return {OUT_OF_BOUNDS, current, 0} end -- bounds are >= 0 when set
if pending == false then return {MIGRATE} end

local value = redis.pcall('HINCRBY', counter, 'value', n)
if type(value) == 'table' then
  if string.find(value.err, 'overflow', 1, true) then return {OVERFLOW, current, 0} end
  return value
end
if pending ~= hour then
  history_lib().shift(counter, KEYS[2], current, pending, hour, n, ttl, true)
else
  redis.call('HSET', counter, 'fh', hour) -- a counter written before fh existed
end
redis.call('PEXPIRE', counter, ttl)
if value >= 9007199254740992 or value <= -9007199254740992 then
  value = redis.call('HGET', counter, 'value')
end
return value
