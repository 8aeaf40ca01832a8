--[[ history: one counter's compact history string (cnt:{ns/key}:h) and exact big sums.
  Text: "<first day>:<count>,<count>,...;<first hour>:<count>,..." where a day counts days and
  an hour counts hours since 1970-01-01 UTC, and an empty count is 0. The daily list keeps the
  last ceil(ttl) + 1 days, the hourly list the last 192 hours (today and 7 days back).
  Counts are Lua numbers while below 10^14 in magnitude (exact in a double, printed exactly by
  %.0f), else exact decimal strings of up to 24 digits.
  history_lib() builds the helpers only when a script needs them: the hot path of hit and
  update never does, and a closure per helper per call would cost it about a microsecond.
  Prepended to the scripts whose header names it; defines no KEYS or ARGV. ]]

local function history_lib()
  local UNIT, SMALL = 1000000000, 100000000000000 -- 10^9, 10^14
  local HOURS_KEPT = 192
  local lib = {}

  -- A count as a Lua number when small, else its canonical decimal string.
  local function big(x)
    if type(x) == 'number' then return x end
    if #x < 15 then return tonumber(x) end
    return x
  end

  local function parts(x) -- sign (1 or -1), high part, last nine digits
    local text = type(x) == 'number' and string.format('%.0f', x) or x
    local sign = 1
    if string.sub(text, 1, 1) == '-' then sign, text = -1, string.sub(text, 2) end
    local hi = 0
    if #text > 9 then hi = tonumber(string.sub(text, 1, #text - 9)) end
    return sign, hi, tonumber(string.sub(text, -9))
  end

  -- a + b, exact (a and b: numbers below 10^14 or decimal strings of up to 24 digits).
  function lib.add(a, b)
    a, b = big(a), big(b)
    if type(a) == 'number' and type(b) == 'number' then
      local sum = a + b
      if sum < SMALL and sum > -SMALL then return sum end
    end
    local sa, ha, la = parts(a)
    local sb, hb, lb = parts(b)
    local hi, lo = sa * ha + sb * hb, sa * la + sb * lb
    -- one carry each way at most: |lo| < 2 * 10^9; then make hi and lo share a sign
    if lo >= UNIT then lo, hi = lo - UNIT, hi + 1 elseif lo <= -UNIT then lo, hi = lo + UNIT, hi - 1 end
    if hi > 0 and lo < 0 then lo, hi = lo + UNIT, hi - 1 elseif hi < 0 and lo > 0 then lo, hi = lo - UNIT, hi + 1 end
    local sign = ''
    if hi < 0 or lo < 0 then sign, hi, lo = '-', -hi, -lo end
    if hi < 100000 then -- below 10^14
      local sum = hi * UNIT + lo
      if sign == '-' then return -sum end
      return sum
    end
    return sign .. string.format('%.0f', hi) .. string.format('%09.0f', lo)
  end

  function lib.neg(x)
    x = big(x)
    if type(x) == 'number' then return -x end
    if string.sub(x, 1, 1) == '-' then return string.sub(x, 2) end
    return '-' .. x
  end

  function lib.text(x)
    if type(x) == 'number' then return string.format('%.0f', x) end
    return x
  end

  local function parse(text)
    local first, items = string.match(text, '^(%-?%d+):(.*)$')
    local list = {}
    for item in string.gmatch(items .. ',', '([^,]*),') do
      if item == '' then list[#list + 1] = 0 else list[#list + 1] = big(item) end
    end
    return {first = tonumber(first), list = list}
  end

  local function dump(series)
    local out = {}
    for i = 1, #series.list do
      local count = series.list[i]
      if count == 0 then out[i] = '' else out[i] = lib.text(count) end
    end
    return string.format('%.0f', series.first) .. ':' .. table.concat(out, ',')
  end

  -- Adds amount at index (a day or an hour) to a series that keeps `kept` entries.
  local function put(series, index, amount, kept)
    local list = series.list
    if #list == 0 then
      series.first, series.list = index, {amount}
      return
    end
    local first, last = series.first, series.first + #list - 1
    if index < first then
      if last - index >= kept then return end -- older than the series keeps
      local grown = {amount}
      for i = 2, first - index do grown[i] = 0 end
      for i = 1, #list do grown[first - index + i] = list[i] end
      series.first, series.list = index, grown
    elseif index > last then
      if index - last >= kept then
        series.first, series.list = index, {amount}
        return
      end
      for i = #list + 1, index - first do list[i] = 0 end
      list[index - first + 1] = amount
      local drop = #list - kept
      if drop > 0 then
        local kept_list = {}
        for i = drop + 1, #list do kept_list[#kept_list + 1] = list[i] end
        series.first, series.list = first + drop, kept_list
      end
    else
      list[index - first + 1] = lib.add(list[index - first + 1], amount)
    end
  end

  -- The history stored at key (false when none) as {daily, hourly, days_kept}.
  function lib.load(stored, ttl_ms)
    local history = {daily = {list = {}}, hourly = {list = {}}}
    history.days_kept = math.floor(tonumber(ttl_ms) / 86400000) + 2
    if stored then
      local daily, hourly = string.match(stored, '^([^;]*);(.*)$')
      history.daily, history.hourly = parse(daily), parse(hourly)
    end
    return history
  end

  function lib.add_day(history, day, amount)
    put(history.daily, day, amount, history.days_kept)
  end

  function lib.add_hour(history, hour, amount)
    put(history.hourly, hour, amount, HOURS_KEPT)
  end

  -- amount at hour, counted in its day and its hour
  function lib.record(history, hour, amount)
    put(history.daily, math.floor(hour / 24), amount, history.days_kept)
    put(history.hourly, hour, amount, HOURS_KEPT)
  end

  function lib.save(key, history, ttl_ms)
    local text = ''
    if #history.daily.list > 0 then text = dump(history.daily) end
    text = text .. ';'
    if #history.hourly.list > 0 then text = text .. dump(history.hourly) end
    -- An hour longer than the counter: the counter's own expiry is refreshed by every write,
    -- the history's only when it is written, at most an hour before the pending hour ends.
    redis.call('SET', key, text, 'PX', string.format('%.0f', tonumber(ttl_ms) + 3600000))
  end

  -- After `amount` was added to a counter whose value was `current`: the pending hour `pending`
  -- (field hh) moves into the history when `hour` is later, or `amount` goes straight into the
  -- history when `hour` is earlier (a late hit). Field hv is the value minus the pending count.
  -- `hits`: the counter's bounds allow a hit, so fh (hit.lua's fast path) follows hh; callers
  -- whose counter refuses hits pass false and fh stays absent.
  -- No hv: a counter created by a hit, with no history of its own yet (hv 0); a string at `key`
  -- was left by an earlier counter of the same name and is replaced, not added to.
  function lib.shift(counter, key, current, pending, hour, amount, ttl_ms, hits)
    local hv = redis.call('HGET', counter, 'hv')
    local stored = false
    if hv then stored = redis.call('GET', key) else hv = '0' end
    local history = lib.load(stored, ttl_ms)
    local at = tonumber(hour)
    if at > tonumber(pending) then
      lib.record(history, tonumber(pending), lib.add(current, lib.neg(hv)))
      if hits then
        redis.call('HSET', counter, 'hh', hour, 'hv', current, 'fh', hour)
      else
        redis.call('HSET', counter, 'hh', hour, 'hv', current)
      end
    else
      lib.record(history, at, amount)
      if hits then
        redis.call('HSET', counter, 'hv', lib.text(lib.add(hv, amount)), 'fh', pending)
      else
        redis.call('HSET', counter, 'hv', lib.text(lib.add(hv, amount)))
      end
    end
    lib.save(key, history, ttl_ms)
  end

  return lib
end
