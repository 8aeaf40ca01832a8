--[[ int64: exact checks on signed 64-bit integers written as decimal strings.
  Lua numbers are doubles, exact only up to 2^53, so a value is split into a
  high part and its last nine digits; every part stays far below 2^53.
  Prepended to every operation script by the Store; defines no KEYS or ARGV. ]]

local INT64_HI, INT64_LO = 9223372036, 854775807 -- 2^63 - 1 = HI * 10^9 + LO
local BILLION = 1000000000

-- Returns {neg, hi, lo} for a canonical int64 string ("-0", "+1", "007" are refused), or nil.
local function int64_parse(text)
  if type(text) ~= 'string' then return nil end
  local sign, digits = string.match(text, '^(%-?)(%d+)$')
  if digits == nil or #digits > 19 then return nil end
  if #digits > 1 and string.sub(digits, 1, 1) == '0' then return nil end
  local neg = sign == '-'
  if neg and digits == '0' then return nil end
  local lo = tonumber(string.sub(digits, -9))
  local hi = 0
  if #digits > 9 then hi = tonumber(string.sub(digits, 1, #digits - 9)) end
  -- the negative range reaches one further: -2^63
  local limit_lo = INT64_LO
  if neg then limit_lo = limit_lo + 1 end
  if hi > INT64_HI or (hi == INT64_HI and lo > limit_lo) then return nil end
  return {neg = neg, hi = hi, lo = lo}
end

local function magnitude_cmp(a, b)
  if a.hi ~= b.hi then return a.hi < b.hi and -1 or 1 end
  if a.lo ~= b.lo then return a.lo < b.lo and -1 or 1 end
  return 0
end

-- -1, 0 or 1 as a is below, equal to or above b (both parsed).
local function int64_cmp(a, b)
  if a.neg ~= b.neg then return a.neg and -1 or 1 end
  local m = magnitude_cmp(a, b)
  if a.neg then return -m end
  return m
end

-- True when a + b falls outside the int64 range (both parsed).
local function int64_add_overflows(a, b)
  if a.neg ~= b.neg then return false end
  local lo = a.lo + b.lo
  local hi = a.hi + b.hi
  if lo >= BILLION then
    lo = lo - BILLION
    hi = hi + 1
  end
  local limit_lo = INT64_LO
  if a.neg then limit_lo = limit_lo + 1 end
  return hi > INT64_HI or (hi == INT64_HI and lo > limit_lo)
end

-- A non-negative integer argument (milliseconds, counts), or nil.
local function nonneg_parse(text)
  local parsed = int64_parse(text)
  if parsed == nil or parsed.neg then return nil end
  return parsed
end

-- A strictly positive integer argument (a ttl), or nil.
local function positive_parse(text)
  local parsed = nonneg_parse(text)
  if parsed == nil or (parsed.hi == 0 and parsed.lo == 0) then return nil end
  return parsed
end
