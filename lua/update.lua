--[[ update: add ARGV[1] to an existing counter if it lies within the counter's bounds.
  KEYS[1] counter hash    cnt:{ns/key}
  KEYS[2] daily buckets   cnt:{ns/key}:d
  KEYS[3] hourly buckets  cnt:{ns/key}:h:<yyyymmdd>
  ARGV[1] amount (int64)   ARGV[2] now (ms)   ARGV[3] ttl (ms)   ARGV[4] day field (yyyymmdd)
  ARGV[5] hour field (00..23)   ARGV[6] hourly bucket expire-at (ms)
  Returns {status, value}: status 0 ok | 1 missing | 2 out of bounds | 3 overflow
    (value: the counter after the update, or unchanged) | {-1, argument name} invalid argument ]]

local amount = int64_parse(ARGV[1])
if amount == nil then return {INVALID, 'amount'} end
local history, bad = history_args(2)
if history == nil then return {INVALID, bad} end

local fields = redis.call('HMGET', KEYS[1], 'value', 'update_lowerbound', 'update_upperbound')
local current = fields[1]
if current == false then return {MISSING} end
if int64_cmp(amount, int64_parse(fields[2])) < 0 or int64_cmp(amount, int64_parse(fields[3])) > 0 then
  return {OUT_OF_BOUNDS, current}
end
if increment(ARGV[1], current, history) ~= OK then return {OVERFLOW, current} end
return {OK, redis.call('HGET', KEYS[1], 'value')}
