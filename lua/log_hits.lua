--[[ log_hits: append a batch of hits to a namespace's hit log under new integer hit ids.
  Entry ids are '<hit id>-<now ms>', so a cursor reads with XRANGE from '<hit id + 1>' and
  age-based trimming reads the time back from the id.
  KEYS[1] hit log stream          cnt:log:{ns}
  KEYS[2] hit-id sequence         cnt:seq:{ns}
  KEYS[3] recent visits (zset)    cnt:vis:{ns}   member session\npath, score last seen (ms)
  ARGV[1] hits: JSON array of arrays of 11 strings: path, title, event (0|1), user_agent,
          session ('' none), bot, ref, size, location, query, created_at (ms)
  ARGV[2] now (ms)   ARGV[3] max entries kept (int > 0)   ARGV[4] max age kept (ms > 0)
  ARGV[5] visit window (ms > 0): a session's first hit on a path within it is a first visit
  Returns {status, first hit id, last hit id, first visits}: status 0 ok, first visits a string
    of one '1' or '0' per hit, in order | {-1, argument name} invalid ]]

local FIELDS = {'p', 't', 'e', 'ua', 's', 'b', 'r', 'sz', 'l', 'q', 'c'}
local ok, hits = pcall(cjson.decode, ARGV[1])
if not ok or type(hits) ~= 'table' or #hits == 0 then return {INVALID, 'hits'} end
for _, hit in ipairs(hits) do
  if type(hit) ~= 'table' or #hit ~= #FIELDS then return {INVALID, 'hits'} end
  for i = 1, #FIELDS do
    if type(hit[i]) ~= 'string' then return {INVALID, 'hits'} end
  end
  if hit[3] ~= '0' and hit[3] ~= '1' then return {INVALID, 'hits'} end
  if nonneg_parse(hit[11]) == nil then return {INVALID, 'hits'} end
end
if nonneg_parse(ARGV[2]) == nil then return {INVALID, 'now'} end
if positive_parse(ARGV[3]) == nil then return {INVALID, 'max_entries'} end
if positive_parse(ARGV[4]) == nil then return {INVALID, 'max_age'} end
if positive_parse(ARGV[5]) == nil then return {INVALID, 'visit_window'} end
local now, visit_window = tonumber(ARGV[2]), tonumber(ARGV[5])

-- Ids only grow: if the sequence was lost while the log survived, continue after the log.
local last = tonumber(redis.call('INCRBY', KEYS[2], #hits))
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if newest ~= nil then
  local newest_id = tonumber(string.match(newest[1], '^(%d+)-'))
  if newest_id >= last - #hits + 1 then
    last = newest_id + #hits
    redis.call('SET', KEYS[2], string.format('%.0f', last))
  end
end
local first = last - #hits + 1
local visits = {}

for index, hit in ipairs(hits) do
  local first_visit = '1'
  if hit[5] ~= '' then
    local member = hit[5] .. '\n' .. hit[1]
    local seen = tonumber(redis.call('ZSCORE', KEYS[3], member))
    local at = tonumber(hit[11])
    if seen ~= nil and at - seen < visit_window then first_visit = '0' end
    redis.call('ZADD', KEYS[3], 'GT', hit[11], member)
  end
  local entry = {}
  for i = 1, #FIELDS do
    entry[#entry + 1] = FIELDS[i]
    entry[#entry + 1] = hit[i]
  end
  entry[#entry + 1] = 'fv'
  entry[#entry + 1] = first_visit
  visits[index] = first_visit
  local id = string.format('%.0f-%s', first + index - 1, ARGV[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], id, unpack(entry))
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('(%.0f', now - visit_window))

-- Age trimming, a bounded step per batch: drop expired entries among the oldest 100.
-- Entries are in time order, so when the oldest has not expired none has: the usual case
-- reads one entry, not a hundred.
local max_age = tonumber(ARGV[4])
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if oldest ~= nil and now - tonumber(string.match(oldest[1], '-(%d+)$')) >= max_age then
  local keep_from = nil
  for _, item in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 100)) do
    local id, at = string.match(item[1], '^(%d+)-(%d+)$')
    if now - tonumber(at) < max_age then keep_from = id break end
    keep_from = string.format('%.0f', tonumber(id) + 1)
  end
  redis.call('XTRIM', KEYS[1], 'MINID', keep_from)
end
return {OK, first, last, table.concat(visits)}
