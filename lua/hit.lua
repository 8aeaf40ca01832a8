--[[ hit: add n (one per hit) to a counter in its steady state, or create it (value n, reset
  off, bounds 0..1) when missing; anything else is left to hit_full.lua (answer FULL).
  What /hit and /api/v0/count send first: one key and four arguments, because every argument
  costs Redis more than this script's Lua. The Store sends hit_full.lua (the whole operation:
  a new or late hour, a counter that refuses hits...) when this answers FULL.
  Library: status
  KEYS[1] counter hash     cnt:{ns/key}
  ARGV[1] n, the hits (integer > 0)   ARGV[2] hour of the hits (hours since 1970, UTC)
  ARGV[3] ttl (ms)   ARGV[4] now (ms; the creation time when this call creates the counter)
  Returns value: the counter after the hits (a bare integer, or its exact text above 2^53)
    | {0, n, 1} ok, this call created the counter | {3, value, 0} overflow (value unchanged)
    | {7} full: nothing written; the counter's pending hour is not this hour, its bounds
      refuse a hit, or it predates field fh (see hit_full.lua)
  The Store builds every argument from Python integers; Redis's own HINCRBY refuses an int64
  overflow. ]]

-- Field fh equals the hour only when the counter exists in the current layout, its pending
-- hour hh is this hour and its bounds allow a hit (absent otherwise; docs/architecture.md).
-- One scalar HGET: no reply table, no Lua work beyond one comparison.
local counter, hour = KEYS[1], ARGV[2]
local fh = redis.call('HGET', counter, 'fh')
if fh == hour then
  local value = redis.pcall('HINCRBY', counter, 'value', ARGV[1])
  if type(value) == 'number' then
    redis.call('PEXPIRE', counter, ARGV[3])
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
-- HSETNX writes the value only where there was none: the counter is new. Bounds, enable_reset
-- and hv are left out: absent means 0..1, off, and hv 0 with no history of its own yet (a
-- history string under its name was an earlier counter's; the first history write replaces it).
if fh == false and redis.call('HSETNX', counter, 'value', ARGV[1]) == 1 then
  redis.call('HSET', counter, 'created', ARGV[4], 'hh', hour, 'fh', hour)
  redis.call('PEXPIRE', counter, ARGV[3])
  return {OK, ARGV[1], 1}
end
return {FULL}
