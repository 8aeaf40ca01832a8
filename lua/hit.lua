--[[ hit: add 1 to a counter, creating it first (value 0, reset off, bounds 0..1) when missing.
  KEYS[1] counter hash    cnt:{ns/key}
  KEYS[2] daily buckets   cnt:{ns/key}:d
  KEYS[3] hourly buckets  cnt:{ns/key}:h:<yyyymmdd>
  ARGV[1] now (ms)   ARGV[2] ttl (ms)   ARGV[3] day field (yyyymmdd)
  ARGV[4] hour field (00..23)   ARGV[5] hourly bucket expire-at (ms)
  Returns {status, value, created}: status 0 ok | 2 out of bounds | 3 overflow
    (value: the counter after the hit, or unchanged; created 1 when this hit made it)
    | {-1, argument name} invalid argument ]]

local history, bad = history_args(1)
if history == nil then return {INVALID, bad} end

local current = redis.call('HGET', KEYS[1], 'value')
if current == false then
  if increment('1', '0', history) ~= OK then return {OVERFLOW, '0', 0} end
  redis.call('HSET', KEYS[1], 'created', history.now, 'enable_reset', '0',
    'update_lowerbound', '0', 'update_upperbound', '1')
  return {OK, '1', 1}
end

if int64_cmp(int64_parse(redis.call('HGET', KEYS[1], 'update_upperbound')), int64_parse('1')) < 0 then
  return {OUT_OF_BOUNDS, current, 0}
end
if increment('1', current, history) ~= OK then return {OVERFLOW, current, 0} end
return {OK, redis.call('HGET', KEYS[1], 'value'), 0}
