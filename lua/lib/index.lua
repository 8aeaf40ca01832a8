--[[ index: a namespace's index of counter keys is a sorted set (every score 0, so members sort
  by key and ZRANGEBYLEX pages from a cursor). Releases before 0.2 kept a plain set: the first
  script that touches such an index converts it in place (one pass, in chunks).
  Prepended to the index scripts; defines no KEYS or ARGV. ]]

local function index_ready(key)
  local kind = redis.call('TYPE', key)
  if type(kind) == 'table' then kind = kind.ok end
  if kind ~= 'set' then return end
  local members = redis.call('SMEMBERS', key)
  redis.call('DEL', key)
  for first = 1, #members, 500 do
    local args = {}
    for i = first, math.min(first + 499, #members) do
      args[#args + 1] = '0'
      args[#args + 1] = members[i]
    end
    redis.call('ZADD', key, (unpack or table.unpack)(args))
  end
end
