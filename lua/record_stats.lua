--[[ record_stats: add a batch of one namespace's hits to its site statistics (GoatCounter's
  dashboard numbers), every key in the namespace's slot {ns}. The Store sums the batch per
  key and field (counter/engine/statbatch.py) and groups it by key: each increment comes once
  with its amount, in the order of its first hit, so this is O(distinct increments), not
  O(hits), with no JSON to decode.
  KEYS[1] path ids      hash  digest -> path id                 cnt:gs:{ns}:pid
  KEYS[2] path info     hash  path id -> JSON [path, title, event, digest, first day]
  KEYS[3] path totals   hash  digest -> visits (all time)       cnt:gs:{ns}:ptot
  KEYS[4] site meta     hash  seq (last path id), first (yyyymmdd), visits, pageviews, bots
  KEYS[5..] bucket keys, each listed once (hashes and sorted sets named by their time bucket)
  ARGV[1] most members per capped sorted set (int > 0): later newcomers count as '(other)'
  ARGV[2] most paths per namespace (int > 0): later new paths count only in the site totals
  ARGV[3] the batch's earliest day (yyyymmdd)
  ARGV[4] P, paths   ARGV[5] H, hashes   ARGV[6] Z, sorted sets
  ARGV[7..] then, in this order:
    #KEYS - 4 expire-at (ms; 0: leave it), one per bucket key KEYS[5..];
    P paths of 3: digest (hex), visits (int >= 0, added to its total),
      '<event 0|1><first day yyyymmdd>\t<path>\t<title if created now>\t<newer title>'
      (a newer title '' leaves an existing path's title alone);
    H hashes: key (3..#KEYS), path (0: always; 1..P: only if that path has an id), n > 0,
      then n of: field, '+<amount>' (an integer field) or '@<hour>:<amount>' repeated
      (hours 0..23 of 24 comma-separated counts);
    Z rankings: key (5..#KEYS), kind, n > 0, then n of: path, member, amount (> 0); kind 0 a
      sorted set, 1 a sorted set capped at ARGV[1] members, 2 a hash of counts (the paths'
      day and month visits: read whole and sorted by the reader, so no skiplist to keep).
  Returns {status, paths created}: status 0 ok | {-1, argument name} invalid argument ]]

local function int_arg(text, low, high)
  if #text > 16 or not string.find(text, '^%d+$') then return nil end
  local n = tonumber(text)
  if n < low or n > high then return nil end
  return n
end
-- What is only used as an index (never sent to Redis) is read by tonumber alone.
local function index_ok(text, low, high)
  local n = tonumber(text or '')
  return n ~= nil and n % 1 == 0 and n >= low and n <= high
end
-- An amount sent to Redis as it is: a positive integer below 10^15.
local function amount_ok(text)
  return #text <= 15 and string.find(text, '^[1-9]%d*$') ~= nil
end
local function invalid(name) return {INVALID, name} end
local BIG = 1e15

-- Everything is checked before the first write, without building tables: a refused call
-- writes nothing, and a valid one pays little for the check.
local member_cap = int_arg(ARGV[1], 1, BIG)
if member_cap == nil then return invalid('member_cap') end
local max_paths = int_arg(ARGV[2], 1, BIG)
if max_paths == nil then return invalid('max_paths') end
if not string.find(ARGV[3], '^%d%d%d%d%d%d%d%d$') then return invalid('day') end
local np, nh, nz = int_arg(ARGV[4], 0, BIG), int_arg(ARGV[5], 0, BIG), int_arg(ARGV[6], 0, BIG)
local nkeys, count = #KEYS, #ARGV
local nk = nkeys - 4
if np == nil or nh == nil or nz == nil or nk < 1 or count < 6 + nk + 3 * np then
  return invalid('hits')
end
for i = 7, 6 + nk do
  if ARGV[i] ~= '0' and not (#ARGV[i] <= 16 and string.find(ARGV[i], '^[1-9]%d*$')) then
    return invalid('expire_at')
  end
end
local INFO = '^[01]%d%d%d%d%d%d%d%d\t[^\t]*\t[^\t]*\t[^\t]*$'
local paths_at = 6 + nk
for at = paths_at, paths_at + 3 * (np - 1), 3 do
  if not string.find(ARGV[at + 1], '^%x+$') or (ARGV[at + 2] ~= '0' and not amount_ok(ARGV[at + 2]))
    or not string.find(ARGV[at + 3], INFO) then
    return invalid('hits')
  end
end
local function spec_ok(spec)
  if string.byte(spec) == 43 then  -- '+<amount>'
    return amount_ok(string.sub(spec, 2))
  end
  local hour, amount = string.match(spec, '^@(%d%d?):([1-9]%d*)$')  -- the usual: one hour
  if hour ~= nil then return tonumber(hour) <= 23 and #amount <= 15 end
  if string.byte(spec) ~= 64 or string.gsub(spec, '@%d%d?:[1-9]%d*', '') ~= '' then
    return false
  end
  for hours, amounts in string.gmatch(spec, '@(%d+):(%d+)') do
    if tonumber(hours) > 23 or #amounts > 15 then return false end
  end
  return true
end
local hashes_at = paths_at + 3 * np
local at = hashes_at
for _ = 1, nh do
  local n = tonumber(ARGV[at + 3] or '')
  if not index_ok(ARGV[at + 1], 3, nkeys) or not index_ok(ARGV[at + 2], 0, np)
    or not index_ok(ARGV[at + 3], 1, BIG) or at + 3 + 2 * n > count then
    return invalid('hits')
  end
  for i = at + 5, at + 3 + 2 * n, 2 do
    if not spec_ok(ARGV[i]) then return invalid('hits') end
  end
  at = at + 3 + 2 * n
end
for _ = 1, nz do
  local n = tonumber(ARGV[at + 3] or '')
  local kind = ARGV[at + 2]
  if not index_ok(ARGV[at + 1], 5, nkeys) or (kind ~= '0' and kind ~= '1' and kind ~= '2')
    or not index_ok(ARGV[at + 3], 1, BIG) or at + 3 + 3 * n > count then
    return invalid('hits')
  end
  for i = at + 4, at + 3 * n + 1, 3 do
    if (ARGV[i] ~= '0' and not index_ok(ARGV[i], 1, np)) or not amount_ok(ARGV[i + 2]) then
      return invalid('hits')
    end
  end
  at = at + 3 + 3 * n
end
if at ~= count then return invalid('hits') end

-- Redis commands take at most a few thousand arguments from Lua's unpack at once.
local CHUNK = 1000
local function call_chunked(command, key, args, step)
  if #args <= CHUNK * step then return redis.call(command, key, unpack(args)) end
  local replies = {}
  for start = 1, #args, CHUNK * step do
    local reply = redis.call(command, key,
      unpack(args, start, math.min(start + CHUNK * step - 1, #args)))
    if type(reply) == 'table' then
      for _, item in ipairs(reply) do replies[#replies + 1] = item end
    end
  end
  return replies
end
local function fmt(n) return string.format('%.0f', n) end
-- Integer fields of one hash, each plus its amount (parallel lists; amounts as text): one
-- field is one HINCRBY; several are one HMGET and one HSET of the sums.
local function add_to_fields(key, fields, amounts)
  if #fields == 1 then
    redis.call('HINCRBY', key, fields[1], amounts[1])
    return
  end
  local current = call_chunked('HMGET', key, fields, 1)
  local writes = {}
  for i = 1, #fields do
    writes[2 * i - 1] = fields[i]
    writes[2 * i] = fmt(tonumber(current[i] or '0') + tonumber(amounts[i]))
  end
  call_chunked('HSET', key, writes, 2)
end

-- Hourly counts are 24 comma-separated numbers in one field. One hour is changed in place
-- (one pattern match, cached per hour), not by splitting all 24: that was most of the cost.
local ZEROS = '0' .. string.rep(',0', 23)
local HOUR_PATTERNS = {}
local function add_hour(counts, hour, amount)
  local pattern = HOUR_PATTERNS[hour]
  if pattern == nil then  -- '()' would capture a position: hour 0 has no prefix group
    pattern = hour == 0 and '^(%d+)(.*)$' or '^(' .. string.rep('%d+,', hour) .. ')(%d+)(.*)$'
    HOUR_PATTERNS[hour] = pattern
  end
  local before, value, after
  if hour == 0 then
    before, value, after = '', string.match(counts, pattern)
  else
    before, value, after = string.match(counts, pattern)
  end
  if value == nil or (hour == 23 and after ~= '') then  -- not 24 counts: rebuild them
    local parsed = {}
    for n in string.gmatch(counts, '%d+') do parsed[#parsed + 1] = tonumber(n) end
    for i = #parsed + 1, 24 do parsed[i] = 0 end
    parsed[hour + 1] = parsed[hour + 1] + amount
    return table.concat(parsed, ',', 1, 24)
  end
  return before .. fmt(tonumber(value) + amount) .. after
end
local function apply(current, spec)
  if string.byte(spec) == 43 then  -- '+<amount>'
    return fmt(tonumber(current or '0') + tonumber(string.sub(spec, 2)))
  end
  local hour, amount = string.match(spec, '^@(%d+):(%d+)$')  -- the usual: one hour
  if hour ~= nil then return add_hour(current or ZEROS, tonumber(hour), tonumber(amount)) end
  local counts = current or ZEROS
  for hour, amount in string.gmatch(spec, '@(%d+):(%d+)') do
    counts = add_hour(counts, tonumber(hour), tonumber(amount))
  end
  return counts
end

-- Site meta: the first day. Paths: their ids; new paths in the order of their first hit
-- until the cap; newer titles; all-time visits.
local meta = redis.call('HMGET', KEYS[4], 'first', 'seq')
if meta[1] == false or ARGV[3] < meta[1] then redis.call('HSET', KEYS[4], 'first', ARGV[3]) end
local seq = tonumber(meta[2] or '0')
local ids, created = {}, 0
if np > 0 then
  local digests = {}
  for p = 1, np do digests[p] = ARGV[paths_at + 3 * p - 2] end
  local found = call_chunked('HMGET', KEYS[1], digests, 1)
  local new_ids, new_infos, retitle, totals = {}, {}, {}, {}
  for p = 1, np do
    local info, id = ARGV[paths_at + 3 * p], found[p]
    if id == false and seq < max_paths then
      seq = seq + 1
      id = fmt(seq)
      local event, day, path, title = string.match(info, '^(%d)(%d+)\t([^\t]*)\t([^\t]*)\t')
      new_ids[#new_ids + 1], new_ids[#new_ids + 2] = digests[p], id
      new_infos[#new_infos + 1] = id
      new_infos[#new_infos + 1] = cjson.encode({path, title, tonumber(event), digests[p], day})
      created = created + 1
    elseif id ~= false and string.sub(info, -1) ~= '\t' then
      retitle[#retitle + 1] = id
      retitle[#retitle + 1] = string.match(info, '\t([^\t]*)$')
    end
    ids[p] = id
    if id ~= false and ARGV[paths_at + 3 * p - 1] ~= '0' then totals[#totals + 1] = p end
  end
  if created > 0 then
    redis.call('HSET', KEYS[4], 'seq', fmt(seq))
    call_chunked('HSET', KEYS[1], new_ids, 2)
    call_chunked('HSET', KEYS[2], new_infos, 2)
  end
  if #retitle > 0 then
    local wanted = {}
    for i = 1, #retitle, 2 do wanted[#wanted + 1] = retitle[i] end
    local infos = call_chunked('HMGET', KEYS[2], wanted, 1)
    local changed = {}
    for i, raw in ipairs(infos) do
      local title = retitle[2 * i]
      if raw then
        local info = cjson.decode(raw)
        if info[2] ~= title then
          info[2] = title
          changed[#changed + 1], changed[#changed + 2] = wanted[i], cjson.encode(info)
        end
      end
    end
    if #changed > 0 then call_chunked('HSET', KEYS[2], changed, 2) end
  end
  if #totals > 0 then
    local wanted, amounts = {}, {}
    for i, p in ipairs(totals) do
      wanted[i], amounts[i] = digests[p], ARGV[paths_at + 3 * p - 1]
    end
    add_to_fields(KEYS[3], wanted, amounts)
  end
end

-- Hashes: one integer field is one HINCRBY; otherwise one HMGET and one HSET.
at = hashes_at
for _ = 1, nh do
  local key, p, n = KEYS[tonumber(ARGV[at + 1])], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  if p == 0 or ids[p] ~= false then
    if n == 1 and string.byte(ARGV[at + 5]) == 43 then
      redis.call('HINCRBY', key, ARGV[at + 4], string.sub(ARGV[at + 5], 2))
    elseif n == 2 then  -- a path's day (visits by hour, pageviews): no table to build
      local f1, f2 = ARGV[at + 4], ARGV[at + 6]
      local current = redis.call('HMGET', key, f1, f2)
      redis.call('HSET', key, f1, apply(current[1], ARGV[at + 5]),
        f2, apply(current[2], ARGV[at + 7]))
    else
      local fields = {}
      for i = 1, n do fields[i] = ARGV[at + 2 + 2 * i] end
      local current = call_chunked('HMGET', key, fields, 1)
      local writes = {}
      for i = 1, n do
        writes[2 * i - 1] = fields[i]
        writes[2 * i] = apply(current[i], ARGV[at + 3 + 2 * i])
      end
      call_chunked('HSET', key, writes, 2)
    end
  end
  at = at + 3 + 2 * n
end

-- Sorted sets (kinds 0, 1): one member is one command (a capped set's newcomer checks the cap);
-- several are one ZMSCORE and one ZADD of the new scores. In a capped set, once it holds
-- member_cap members a newcomer counts as '(other)', newcomers taken in order.
local function add_one(key, capped, member, amount)
  if not capped then
    redis.call('ZINCRBY', key, amount, member)
  elseif redis.call('ZADD', key, 'XX', 'INCR', amount, member) == false then
    if redis.call('ZCARD', key) >= member_cap then member = '(other)' end
    redis.call('ZINCRBY', key, amount, member)
  end
end
-- A hash of counts (kind 2): its members are integer fields (add_to_fields).
local function add_counts(key, live)
  local fields, amounts = {}, {}
  for i, position in ipairs(live) do
    fields[i], amounts[i] = ARGV[position + 1], ARGV[position + 2]
  end
  add_to_fields(key, fields, amounts)
end
for _ = 1, nz do
  local key, kind, n = KEYS[tonumber(ARGV[at + 1])], ARGV[at + 2], tonumber(ARGV[at + 3])
  local capped = kind == '1'
  local live = nil  -- ARGV positions of the members that count (a set of one needs none)
  if n == 1 and kind ~= '2' then
    local p = tonumber(ARGV[at + 4])
    if p == 0 or ids[p] ~= false then add_one(key, capped, ARGV[at + 5], ARGV[at + 6]) end
  else
    live = {}
    for i = at + 4, at + 3 * n + 1, 3 do
      local p = tonumber(ARGV[i])
      if p == 0 or ids[p] ~= false then live[#live + 1] = i end
    end
  end
  if live ~= nil and kind == '2' then
    if #live > 0 then add_counts(key, live) end
  elseif live ~= nil and #live == 1 then
    add_one(key, capped, ARGV[live[1] + 1], ARGV[live[1] + 2])
  elseif live ~= nil and #live > 1 then
    local query = {}
    for i, position in ipairs(live) do query[i] = ARGV[position + 1] end
    if capped then query[#query + 1] = '(other)' end
    local found = call_chunked('ZMSCORE', key, query, 1)
    local score = {}
    for i, member in ipairs(query) do
      if found[i] then score[member] = tonumber(found[i]) end
    end
    local card, touched, seen = nil, {}, {}
    for _, position in ipairs(live) do
      local member = ARGV[position + 1]
      if score[member] == nil and capped then
        if card == nil then card = redis.call('ZCARD', key) end
        if card >= member_cap then member = '(other)' end
      end
      if score[member] == nil then
        score[member] = 0
        if card ~= nil then card = card + 1 end
      end
      if not seen[member] then
        seen[member] = true
        touched[#touched + 1] = member
      end
      score[member] = score[member] + tonumber(ARGV[position + 2])
    end
    local writes = {}
    for i, member in ipairs(touched) do
      writes[2 * i - 1] = string.format('%.17g', score[member])
      writes[2 * i] = member
    end
    call_chunked('ZADD', key, writes, 2)
  end
  at = at + 3 + 3 * n
end

-- Every bucket lives as long as its time span plus the retention, whatever wrote it first
-- (the caller sends 0 for a bucket whose expiry it has already set).
for i = 1, nk do
  if ARGV[6 + i] ~= '0' then redis.call('PEXPIREAT', KEYS[i + 4], ARGV[6 + i]) end
end
return {OK, created}
