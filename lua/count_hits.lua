--[[ count_hits: add a batch's hits to one counter, creating it first as /hit does
  (value 0, reset off, bounds 0..1) when missing. Several hits count as several +1 steps.
  KEYS[1] counter hash    cnt:{ns/key}
  KEYS[2] daily buckets   cnt:{ns/key}:d
  KEYS[3] hourly buckets  cnt:{ns/key}:h:<yyyymmdd>
  ARGV[1] hits (int > 0)   ARGV[2] now (ms)   ARGV[3] ttl (ms)   ARGV[4] day field (yyyymmdd)
  ARGV[5] hour field (00..23)   ARGV[6] hourly bucket expire-at (ms)
  Returns {status, value, created}: status 0 ok | 2 out of bounds (upper bound below 1)
    | 3 overflow (value: the counter after the hits, or unchanged; created 1 when this made it)
    | {-1, argument name} invalid argument ]]

if positive_parse(ARGV[1]) == nil then return {INVALID, 'hits'} end
local history, bad = history_args(2)
if history == nil then return {INVALID, bad} end

local current = redis.call('HGET', KEYS[1], 'value')
if current == false then
  if increment(ARGV[1], '0', history) ~= OK then return {OVERFLOW, '0', 0} end
  redis.call('HSET', KEYS[1], 'created', history.now, 'enable_reset', '0',
    'update_lowerbound', '0', 'update_upperbound', '1')
  return {OK, ARGV[1], 1}
end

if int64_cmp(int64_parse(redis.call('HGET', KEYS[1], 'update_upperbound')), int64_parse('1')) < 0 then
  return {OUT_OF_BOUNDS, current, 0}
end
if increment(ARGV[1], current, history) ~= OK then return {OVERFLOW, current, 0} end
return {OK, redis.call('HGET', KEYS[1], 'value'), 0}
