--[[ put: set a counter's value for a token holder with `manage`, creating it when missing
  (bounds -1..1 and reset off, as /create, unless given); enable_reset does not apply.
  Library: status, int64, history
  KEYS[1] counter hash     cnt:{ns/key}
  KEYS[2] history string   cnt:{ns/key}:h
  ARGV[1] value (int64)   ARGV[2] enable_reset (0|1, '' keep)
  ARGV[3] update_lowerbound (int64 <= 0, '' keep)   ARGV[4] update_upperbound (int64 >= 0, '' keep)
  ARGV[5] now (ms)   ARGV[6] ttl (ms)   ARGV[7] hour (hours since 1970, UTC)
  Returns {status, old_value, created}: 0 ok (old_value '' when created) | {6} migrate
    | {-1, argument name} invalid argument ]]

local ZERO = int64_parse('0')
if int64_parse(ARGV[1]) == nil then return {INVALID, 'value'} end
if ARGV[2] ~= '' and ARGV[2] ~= '0' and ARGV[2] ~= '1' then return {INVALID, 'enable_reset'} end
if ARGV[3] ~= '' then
  local lower = int64_parse(ARGV[3])
  if lower == nil or int64_cmp(lower, ZERO) > 0 then return {INVALID, 'update_lowerbound'} end
end
if ARGV[4] ~= '' then
  local upper = int64_parse(ARGV[4])
  if upper == nil or int64_cmp(upper, ZERO) < 0 then return {INVALID, 'update_upperbound'} end
end
if nonneg_parse(ARGV[5]) == nil then return {INVALID, 'now'} end
if positive_parse(ARGV[6]) == nil then return {INVALID, 'ttl'} end
if nonneg_parse(ARGV[7]) == nil then return {INVALID, 'hour'} end

local fields = redis.call('HMGET', KEYS[1], 'value', 'hh', 'hv', 'update_lowerbound',
  'update_upperbound', 'enable_reset')
local old, created = fields[1], 0
if old == false then
  created, old = 1, ''
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'created', ARGV[5], 'enable_reset', '0',
    'update_lowerbound', '-1', 'update_upperbound', '1', 'hh', ARGV[7], 'hv', ARGV[1])
else
  if fields[2] == false then return {MIGRATE} end
  -- Keep the pending hour's count (value - hv) across the jump in value; a hit-created
  -- counter gets its implicit bounds written out, as the other options may now change.
  local old_hv = fields[3]
  if old_hv == false then -- created by a hit, no history yet: a string there is stale (hit.lua)
    old_hv = '0'
    redis.call('DEL', KEYS[2])
  end
  local history = history_lib()
  local hv = history.add(old_hv, history.add(ARGV[1], history.neg(old)))
  redis.call('HSET', KEYS[1], 'hv', history.text(hv), 'update_lowerbound', fields[4] or '0',
    'update_upperbound', fields[5] or '1', 'enable_reset', fields[6] or '0')
  redis.call('PEXPIRE', KEYS[2], string.format('%.0f', ARGV[6] + 3600000))
end
redis.call('HSET', KEYS[1], 'value', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'enable_reset', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'update_lowerbound', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'update_upperbound', ARGV[4]) end
-- fh (hit.lua's fast path) exists only while a hit is within bounds: gone with an upper bound
-- of 0; after any other change the next hit's full path writes it again.
if ARGV[4] == '0' then redis.call('HDEL', KEYS[1], 'fh') end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {OK, old, created}
