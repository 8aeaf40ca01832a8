--[[ index_add: list a new counter in its namespace's index.
  Library: status, index
  KEYS[1] namespace index   cnt:idx:{ns}
  ARGV[1] key
  Returns {status}: 0 ok ]]

index_ready(KEYS[1])
redis.call('ZADD', KEYS[1], 0, ARGV[1])
return {OK}
