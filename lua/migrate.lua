--[[ migrate: move a counter written by the pre-0.2 layout (counter hash with `updated`, daily
  hash cnt:{ns/key}:d, one hourly hash per day cnt:{ns/key}:h:<yyyymmdd>) to the current one.
  Idempotent: a counter already migrated (or gone) is left alone.
  Library: status, history
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  KEYS[3] old daily hash   cnt:{ns/key}:d
  KEYS[4] .. KEYS[11] old hourly hashes of the 8 days ending today, newest first
  ARGV[1] hour now (hours since 1970, UTC)   ARGV[2] .. ARGV[9] the day numbers of those 8 days
  Returns {status}: 0 ok | 1 missing ]]

local fields = redis.call('HMGET', KEYS[1], 'value', 'hh')
if fields[1] == false then return {MISSING} end
if fields[2] ~= false then return {OK} end

-- days since 1970 of a yyyymmdd date (proleptic Gregorian; H. Hinnant's days_from_civil)
local function day_number(text)
  local y, m, d = tonumber(string.sub(text, 1, 4)), tonumber(string.sub(text, 5, 6)),
    tonumber(string.sub(text, 7, 8))
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1 end
local lib = history_lib()
local history = lib.load(false, ttl)
local daily = redis.call('HGETALL', KEYS[3])
for i = 1, #daily, 2 do
  if string.match(daily[i], '^%d%d%d%d%d%d%d%d$') then
    lib.add_day(history, day_number(daily[i]), daily[i + 1])
  end
end
for k = 4, 11 do
  local hourly = redis.call('HGETALL', KEYS[k])
  for i = 1, #hourly, 2 do
    local hour = tonumber(hourly[i])
    if hour ~= nil then lib.add_hour(history, tonumber(ARGV[k - 2]) * 24 + hour, hourly[i + 1]) end
  end
end
redis.call('HSET', KEYS[1], 'hh', ARGV[1], 'hv', fields[1])
redis.call('HDEL', KEYS[1], 'updated')
for k = 3, 11 do redis.call('DEL', KEYS[k]) end
lib.save(KEYS[2], history, ttl)
return {OK}
