--[[ index_page: up to ARGV[2] keys of a namespace's index that sort after ARGV[1], in order.
  O(log n + page) whatever the size of the namespace.
  Library: status, index
  KEYS[1] namespace index   cnt:idx:{ns}
  ARGV[1] cursor: the last key of the previous page ('' for the first page)
  ARGV[2] page size (integer > 0)
  Returns {status, key...}: 0 ok | {-1, argument name} invalid argument ]]

local count = tonumber(ARGV[2])
if count == nil or count < 1 or count % 1 ~= 0 then return {INVALID, 'count'} end
index_ready(KEYS[1])
local low = '-'
if ARGV[1] ~= '' then low = '(' .. ARGV[1] end
local keys = redis.call('ZRANGEBYLEX', KEYS[1], low, '+', 'LIMIT', 0, count)
table.insert(keys, 1, OK)
return keys
