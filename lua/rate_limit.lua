--[[ rate_limit: take one request from a fixed window of ARGV[1] requests per ARGV[2] ms.
  A refused request changes nothing; the window starts with its first request.
  KEYS[1] window hash   cnt:rl:{bucket}   (fields: start, used)
  ARGV[1] limit (int > 0)   ARGV[2] window (ms > 0)
  ARGV[3] now (ms), or '' to read the Redis server's clock so every instance agrees
  Returns {status, allowed (1|0), remaining, reset_ms}: status 0 ok
    | {-1, argument name} invalid argument ]]

if positive_parse(ARGV[1]) == nil then return {INVALID, 'limit'} end
if positive_parse(ARGV[2]) == nil then return {INVALID, 'window'} end
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  if nonneg_parse(ARGV[3]) == nil then return {INVALID, 'now'} end
  now = tonumber(ARGV[3])
end

local fields = redis.call('HMGET', KEYS[1], 'start', 'used')
local start, used = tonumber(fields[1]), tonumber(fields[2])
if start == nil or used == nil or now >= start + window then
  start, used = now, 0
end
local reset = start + window - now
if used >= limit then return {OK, 0, 0, reset} end
redis.call('HSET', KEYS[1], 'start', string.format('%.0f', start), 'used', used + 1)
redis.call('PEXPIRE', KEYS[1], reset)
return {OK, 1, limit - used - 1, reset}
