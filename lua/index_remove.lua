--[[ index_remove: drop a counter (deleted or expired) from its namespace's index.
  Library: status, index
  KEYS[1] namespace index   cnt:idx:{ns}
  ARGV[1] key
  Returns {status}: 0 ok ]]

index_ready(KEYS[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return {OK}
