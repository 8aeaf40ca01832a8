--[[ log_hits: append a batch of hits to a namespace's hit log under new consecutive integer
  hit ids, as ONE stream entry holding the batch's rows packed.
  The entry id is '<last hit id of the batch>-<now ms>': the entry holding hit id i is the
  first whose id is >= '<i>-0', so a cursor reads with XRANGE from '<after + 1>-0'; age
  trimming reads the time back from the id. Entries written before (one hit each, fields
  p t e ua s b r sz l q c fv) have the same id shape: a batch of one.
  KEYS[1] hit log stream          cnt:log:{ns}
  KEYS[2] hit-id sequence         cnt:seq:{ns}
  KEYS[3] recent visits (zset)    cnt:vis:{ns}   member session\npath, score last seen (ms)
  ARGV[1] rows: the batch's hits as the Store packed and checked them (a JSON array of arrays
          of 11 strings: path, title, event, user_agent, session, bot, ref, size, location,
          query, created_at), stored as it is in field 'h'
  ARGV[2] number of hits n (int > 0)
  ARGV[3] now (ms)   ARGV[4] hits kept (int > 0; whole batches, at least this many)
  ARGV[5] max age kept (ms > 0)
  ARGV[6] visit window (ms > 0): a session's first hit on a path within it is a first visit
  ARGV[7..] the hits that have a session, 3 each, in batch order: position (1..n),
          member 'session\npath', created_at (ms)
  Entry fields: n (hits), h (ARGV[1]), fv (one '1' or '0' per hit: first visit)
  Returns {status, first hit id, last hit id, first visits}: status 0 ok, first visits the
    fv string | {-1, argument name} invalid ]]

local function int_arg(text, low)
  if #text > 16 or not string.find(text, '^%d+$') then return nil end
  local n = tonumber(text)
  if n < low then return nil end
  return n
end
local rows = ARGV[1]
local n = int_arg(ARGV[2], 1)
if n == nil or string.sub(rows, 1, 1) ~= '[' or string.sub(rows, -1) ~= ']' then
  return {INVALID, 'hits'}
end
local now = int_arg(ARGV[3], 0)
if now == nil then return {INVALID, 'now'} end
local max_entries = int_arg(ARGV[4], 1)
if max_entries == nil then return {INVALID, 'max_entries'} end
local max_age = int_arg(ARGV[5], 1)
if max_age == nil then return {INVALID, 'max_age'} end
local visit_window = int_arg(ARGV[6], 1)
if visit_window == nil then return {INVALID, 'visit_window'} end
if (#ARGV - 6) % 3 ~= 0 then return {INVALID, 'sessions'} end
local members, wanted = {}, {}
for at = 7, #ARGV, 3 do
  local position = int_arg(ARGV[at], 1)
  if position == nil or position > n or int_arg(ARGV[at + 2], 0) == nil or ARGV[at + 1] == '' then
    return {INVALID, 'sessions'}
  end
  if not wanted[ARGV[at + 1]] then
    wanted[ARGV[at + 1]] = true
    members[#members + 1] = ARGV[at + 1]
  end
end

-- Ids only grow: if the sequence was lost while the log survived, continue after the log
-- (only then is the newest entry read: INCRBY made the sequence anew).
local last = tonumber(redis.call('INCRBY', KEYS[2], n))
local newest = last == n and redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1] or nil
if newest ~= nil then
  local newest_id = tonumber(string.match(newest[1], '^(%d+)-'))
  if newest_id >= last - n + 1 then
    last = newest_id + n
    redis.call('SET', KEYS[2], string.format('%.0f', last))
  end
end
local first = last - n + 1

-- First visits: one ZMSCORE for the batch's distinct members, one ZADD of their new
-- last-seen times (never moved back, as ZADD GT would).
local visits = {}
for i = 1, n do visits[i] = '1' end
if #members > 0 then
  local seen = {}
  for start = 1, #members, 1000 do
    local part = {unpack(members, start, math.min(start + 999, #members))}
    for i, score in ipairs(redis.call('ZMSCORE', KEYS[3], unpack(part))) do
      if score then seen[part[i]] = tonumber(score) end
    end
  end
  for i = 7, #ARGV, 3 do
    local position, member, at = tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2])
    local last_seen = seen[member]
    if last_seen ~= nil and at - last_seen < visit_window then visits[position] = '0' end
    if last_seen == nil or at > last_seen then seen[member] = at end
  end
  for start = 1, #members, 1000 do
    local writes = {}
    for i = start, math.min(start + 999, #members) do
      writes[#writes + 1] = string.format('%.0f', seen[members[i]])
      writes[#writes + 1] = members[i]
    end
    redis.call('ZADD', KEYS[3], unpack(writes))
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('(%.0f', now - visit_window))

-- Trimming by count drops whole batches whose every hit is older than the newest
-- max_entries (exact MINID: cheap, about one entry per batch).
local fv = table.concat(visits)
local entry_id = string.format('%.0f-%.0f', last, now)
local keep_from = string.format('%.0f', math.max(last - max_entries + 1, 0))
redis.call('XADD', KEYS[1], 'MINID', keep_from, entry_id, 'n', ARGV[2], 'h', rows, 'fv', fv)

-- Age trimming, a bounded step per batch: drop expired entries among the oldest 100.
-- Entries are in time order, so when the oldest has not expired none has: the usual case
-- reads one entry, not a hundred.
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if oldest ~= nil and now - tonumber(string.match(oldest[1], '-(%d+)$')) >= max_age then
  local keep = nil
  for _, item in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 100)) do
    local id, at = string.match(item[1], '^(%d+)-(%d+)$')
    if now - tonumber(at) < max_age then keep = id break end
    keep = string.format('%.0f', tonumber(id) + 1)
  end
  redis.call('XTRIM', KEYS[1], 'MINID', keep)
end
return {OK, first, last, fv}
