--[[ record_stats: add a batch of one namespace's hits to its site statistics (GoatCounter's
  dashboard numbers), every key in the namespace's slot {ns}. The Store names every bucket key;
  a hit refers to them by their position in KEYS.
  KEYS[1] path ids      hash  digest -> path id                 cnt:gs:{ns}:pid
  KEYS[2] path info     hash  path id -> JSON [path, title, event, digest, first day]
  KEYS[3] path totals   hash  digest -> visits (all time)       cnt:gs:{ns}:ptot
  KEYS[4] site meta     hash  seq (last path id), first (yyyymmdd), visits, pageviews, bots
  KEYS[5..] bucket keys, each listed once (hashes and sorted sets named by their time bucket)
  ARGV[1] hits: JSON array of objects {d digest, p path, t title, e 0|1, v visit 0|1, b bot 0|1,
          day yyyymmdd, f mmdd, h hour 0..23, y path-year hash, m month totals hash, dd day (01..31),
          top {day zset, month zset}, dims: list of {day zset, month zset, member},
          r {day zset, member}}
          where every key is an index into KEYS (5 or more)
  ARGV[2] expire-at (ms, 0: leave it) for each bucket key, a JSON array aligned with KEYS[5..]
  ARGV[3] most members per dimension sorted set (int > 0): later newcomers count as '(other)'
  ARGV[4] most paths per namespace (int > 0): later new paths count only in the site totals
  Returns {status, paths created}: status 0 ok | {-1, argument name} invalid argument ]]

local ok, hits = pcall(cjson.decode, ARGV[1])
if not ok or type(hits) ~= 'table' or #hits == 0 then return {INVALID, 'hits'} end
local ok2, expire_at = pcall(cjson.decode, ARGV[2])
if not ok2 or type(expire_at) ~= 'table' or #expire_at ~= #KEYS - 4 then
  return {INVALID, 'expire_at'}
end
if positive_parse(ARGV[3]) == nil then return {INVALID, 'member_cap'} end
if positive_parse(ARGV[4]) == nil then return {INVALID, 'max_paths'} end
local member_cap, max_paths = tonumber(ARGV[3]), tonumber(ARGV[4])

local function key_index(value)
  return type(value) == 'number' and value >= 5 and value <= #KEYS and value % 1 == 0
end
for _, hit in ipairs(hits) do
  if type(hit) ~= 'table' or type(hit.d) ~= 'string' or type(hit.p) ~= 'string'
    or type(hit.t) ~= 'string' or type(hit.day) ~= 'string' or type(hit.f) ~= 'string'
    or type(hit.dd) ~= 'string' or type(hit.h) ~= 'number' or hit.h < 0 or hit.h > 23
    or not key_index(hit.m) then
    return {INVALID, 'hits'}
  end
  if hit.b ~= 1 and not (key_index(hit.y) and type(hit.top) == 'table'
    and key_index(hit.top[1]) and key_index(hit.top[2])) then
    return {INVALID, 'hits'}
  end
  for _, dim in ipairs(hit.dims or {}) do
    if type(dim) ~= 'table' or not key_index(dim[1]) or not key_index(dim[2])
      or type(dim[3]) ~= 'string' then return {INVALID, 'hits'} end
  end
  if hit.r ~= nil and (type(hit.r) ~= 'table' or not key_index(hit.r[1])
    or type(hit.r[2]) ~= 'string') then return {INVALID, 'hits'} end
end
for _, at in ipairs(expire_at) do
  if type(at) ~= 'number' or at < 0 then return {INVALID, 'expire_at'} end
end

-- A capped sorted set: once it holds member_cap members, a newcomer counts as '(other)'.
local function bump(key, member)
  -- The usual case, a member already there, is one command; a newcomer checks the cap.
  if redis.call('ZADD', key, 'XX', 'INCR', 1, member) == false then
    if redis.call('ZCARD', key) >= member_cap then member = '(other)' end
    redis.call('ZINCRBY', key, 1, member)
  end
end

-- Hourly visits of one path and day: 24 comma-separated counts in one hash field.
local function add_hour(key, field, hour)
  local counts = {}
  local current = redis.call('HGET', key, field)
  if current then
    for n in string.gmatch(current, '%d+') do counts[#counts + 1] = tonumber(n) end
  end
  for i = #counts + 1, 24 do counts[i] = 0 end
  counts[hour + 1] = counts[hour + 1] + 1
  redis.call('HSET', key, field, table.concat(counts, ','))
end

local created = 0
for _, hit in ipairs(hits) do
  local month = KEYS[hit.m]
  local first = redis.call('HGET', KEYS[4], 'first')
  if first == false or hit.day < first then redis.call('HSET', KEYS[4], 'first', hit.day) end
  if hit.b == 1 then
    -- Bots are kept apart: counted, never shown as pageviews.
    redis.call('HINCRBY', KEYS[4], 'bots', 1)
    redis.call('HINCRBY', month, hit.dd .. 'b', 1)
  else
    redis.call('HINCRBY', KEYS[4], 'pageviews', 1)
    redis.call('HINCRBY', month, hit.dd .. 'p', 1)
    local id = redis.call('HGET', KEYS[1], hit.d)
    if id == false and tonumber(redis.call('HGET', KEYS[4], 'seq') or '0') < max_paths then
      id = redis.call('HINCRBY', KEYS[4], 'seq', 1)
      redis.call('HSET', KEYS[1], hit.d, id)
      redis.call('HSET', KEYS[2], id, cjson.encode({hit.p, hit.t, hit.e, hit.d, hit.day}))
      created = created + 1
    elseif id ~= false and hit.v == 1 and hit.t ~= '' then
      local info = cjson.decode(redis.call('HGET', KEYS[2], id))
      if info[2] ~= hit.t then
        info[2] = hit.t
        redis.call('HSET', KEYS[2], id, cjson.encode(info))
      end
    end
    if id ~= false then redis.call('HINCRBY', KEYS[hit.y], hit.f .. 'p', 1) end
    if hit.v == 1 then
      redis.call('HINCRBY', KEYS[4], 'visits', 1)
      add_hour(month, hit.dd .. 'v', hit.h)
      if hit.e == 1 then add_hour(month, hit.dd .. 'e', hit.h) end
      if id ~= false then
        redis.call('HINCRBY', KEYS[3], hit.d, 1)
        add_hour(KEYS[hit.y], hit.f, hit.h)
        redis.call('ZINCRBY', KEYS[hit.top[1]], 1, hit.d)
        redis.call('ZINCRBY', KEYS[hit.top[2]], 1, hit.d)
        if hit.r ~= nil then bump(KEYS[hit.r[1]], hit.r[2]) end
      end
      for _, dim in ipairs(hit.dims or {}) do
        bump(KEYS[dim[1]], dim[3])
        bump(KEYS[dim[2]], dim[3])
      end
    end
  end
end

-- Every bucket lives as long as its time span plus the retention, whatever wrote it first
-- (the caller sends 0 for a bucket whose expiry it has already set).
for i, at in ipairs(expire_at) do
  if at > 0 then redis.call('PEXPIREAT', KEYS[i + 4], string.format('%.0f', at)) end
end
return {OK, created}
