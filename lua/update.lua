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
-- The value is not read here: HINCRBY answers it; a refusal or a new hour reads it later.
local fields = redis.call('HMGET', counter, 'hh', 'update_lowerbound', 'update_upperbound')
local pending, lower, upper = fields[1], fields[2] or '0', fields[3] or '1'
if pending == false and redis.call('EXISTS', counter) == 0 then return {MISSING} end

-- lower <= amount <= upper, all canonical decimals. Below 16 characters each is exact as a
-- double (|x| < 10^15 < 2^53); a bound or amount beyond that is compared as text.
local within
if #amount < 16 and #lower < 16 and #upper < 16 then
  local a = tonumber(amount)
  within = tonumber(lower) <= a and a <= tonumber(upper)
else
  local function compare(a, b) -- -1, 0 or 1 as a is below, equal to or above b
    local a_neg, b_neg = string.byte(a, 1) == 45, string.byte(b, 1) == 45
    if a_neg ~= b_neg then return a_neg and -1 or 1 end
    local order = 0
    if #a ~= #b then order = #a < #b and -1 or 1 elseif a ~= b then order = a < b and -1 or 1 end
    if a_neg then return -order end
    return order
  end
  within = compare(amount, lower) >= 0 and compare(amount, upper) <= 0
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
  history_lib().shift(counter, KEYS[2], current, pending, hour, amount, ttl, upper ~= '0')
end
redis.call('PEXPIRE', counter, ttl)
if value >= 9007199254740992 or value <= -9007199254740992 then
  value = redis.call('HGET', counter, 'value')
end
return value
