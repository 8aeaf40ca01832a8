--[[ update: add ARGV[1] to an existing counter if it lies within the counter's bounds.
  Library: status, history
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  ARGV[1] amount (canonical int64)   ARGV[2] hour (hours since 1970, UTC)   ARGV[3] ttl (ms)
  Returns value: the counter after the update (a bare integer, or its exact text above 2^53)
    | {status, value}: 1 missing | 2 out of bounds | 3 overflow (value unchanged)
    | {6} migrate (pre-0.2 layout)
  The Store builds every argument from Python integers (the amount already checked as int64);
  Redis's own HINCRBY refuses an int64 overflow. ]]

local counter, amount, hour, ttl = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
-- +1 (or 0) is what a hit adds: where fh vouches for a hit (hit.lua), it is within bounds too.
if (amount == '1' or amount == '0') and redis.call('HGET', counter, 'fh') == hour then
  local value = redis.pcall('HINCRBY', counter, 'value', amount)
  if type(value) == 'number' then
    redis.call('PEXPIRE', counter, ttl)
    if value < 9007199254740992 and value > -9007199254740992 then return value end
    return redis.call('HGET', counter, 'value')
  end
  if string.find(value.err, 'overflow', 1, true) then
    return {OVERFLOW, redis.call('HGET', counter, 'value')}
  end
  return value
end

-- Otherwise scalar HGETs only (a multi-field HMGET turned into a Lua table costs more than a command),
-- and only the bound on the amount's side: lower <= 0 <= upper always, so a positive amount
-- needs upper and a negative one lower. The value is not read: HINCRBY answers it.
local pending = redis.call('HGET', counter, 'hh')
if pending == false and redis.call('EXISTS', counter) == 0 then return {MISSING} end
local negative = tonumber(amount) < 0
local bound
if negative then
  bound = redis.call('HGET', counter, 'update_lowerbound') or '0'
else
  bound = redis.call('HGET', counter, 'update_upperbound') or '1'
end

-- amount within the bound, both canonical decimals. Below 16 characters each is exact as a
-- double (|x| < 10^15 < 2^53); a bound or amount beyond that is compared as text.
local within
if #amount < 16 and #bound < 16 then
  if negative then within = tonumber(amount) >= tonumber(bound)
  else within = tonumber(amount) <= tonumber(bound) end
else
  local order = 0 -- -1, 0 or 1 as amount is below, equal to or above bound
  local a_neg, b_neg = negative, string.byte(bound, 1) == 45
  if a_neg ~= b_neg then order = a_neg and -1 or 1
  else
    if #amount ~= #bound then order = #amount < #bound and -1 or 1
    elseif amount ~= bound then order = amount < bound and -1 or 1 end
    if a_neg then order = -order end
  end
  if negative then within = order >= 0 else within = order <= 0 end
end
if not within then return {OUT_OF_BOUNDS, redis.call('HGET', counter, 'value')} end
if pending == false then return {MIGRATE} end

local current = false -- the value before the update: read only when the hour changes
if pending ~= hour then current = redis.call('HGET', counter, 'value') end
local value = redis.pcall('HINCRBY', counter, 'value', amount)
if type(value) == 'table' then -- refused, nothing written: an overflow, or Redis cannot write now
  if string.find(value.err, 'overflow', 1, true) then
    return {OVERFLOW, current or redis.call('HGET', counter, 'value')}
  end
  return value -- OOM, READONLY...: the caller sees Redis's own error
end
if current then
  -- fh follows hh only when a hit is within bounds (the upper bound, absent: 1, is not 0)
  local hits = (redis.call('HGET', counter, 'update_upperbound') or '1') ~= '0'
  history_lib().shift(counter, KEYS[2], current, pending, hour, amount, ttl, hits)
end
redis.call('PEXPIRE', counter, ttl)
if value >= 9007199254740992 or value <= -9007199254740992 then
  value = redis.call('HGET', counter, 'value')
end
return value
