--[[ counter: the increment shared by hit and update, and their argument checks.
  Prepended after status.lua and int64.lua; defines no KEYS or ARGV of its own.
  Callers pass KEYS[1] counter hash, KEYS[2] daily buckets, KEYS[3] hourly buckets. ]]

-- Reads the history argument block shared by hit and update, starting at ARGV[first]:
-- now (ms), ttl (ms), day field (yyyymmdd), hour field (00..23), hourly expire-at (ms).
-- Returns a table, or nil and the name of the bad argument.
local function history_args(first)
  local now, ttl = ARGV[first], ARGV[first + 1]
  local day, hour, hour_expire_at = ARGV[first + 2], ARGV[first + 3], ARGV[first + 4]
  if nonneg_parse(now) == nil then return nil, 'now' end
  if positive_parse(ttl) == nil then return nil, 'ttl' end
  if type(day) ~= 'string' or string.match(day, '^%d%d%d%d%d%d%d%d$') == nil then
    return nil, 'day'
  end
  if type(hour) ~= 'string' or string.match(hour, '^%d%d$') == nil or tonumber(hour) > 23 then
    return nil, 'hour'
  end
  if nonneg_parse(hour_expire_at) == nil then return nil, 'hour_expire_at' end
  return {now = now, ttl = ttl, day = day, hour = hour, hour_expire_at = hour_expire_at}
end

local function bucket_value(key, field)
  return int64_parse(redis.call('HGET', key, field) or '0')
end

-- Adds amount (a canonical int64 string) to the counter and both history buckets,
-- or to nothing when any of the three would overflow: all or nothing.
-- Returns OK or OVERFLOW; the caller has checked existence and bounds.
local function increment(amount, current, history)
  local parsed_amount = int64_parse(amount)
  if int64_add_overflows(int64_parse(current), parsed_amount)
      or int64_add_overflows(bucket_value(KEYS[2], history.day), parsed_amount)
      or int64_add_overflows(bucket_value(KEYS[3], history.hour), parsed_amount) then
    return OVERFLOW
  end
  redis.call('HINCRBY', KEYS[1], 'value', amount)
  redis.call('HSET', KEYS[1], 'updated', history.now)
  redis.call('PEXPIRE', KEYS[1], history.ttl)
  redis.call('HINCRBY', KEYS[2], history.day, amount)
  redis.call('PEXPIRE', KEYS[2], history.ttl)
  redis.call('HINCRBY', KEYS[3], history.hour, amount)
  redis.call('PEXPIREAT', KEYS[3], history.hour_expire_at)
  return OK
end
