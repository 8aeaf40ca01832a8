--[[ hit_many: hit.lua for several counters in one call: the hits on different counters that
  one worker queued in the same event-loop tick (counter/engine/tickbatch.py). Each counter
  is decided as hit.lua decides it; the call costs Redis one command's overhead (reading,
  parsing, script lookup, reply) instead of one per counter. Its keys span hash slots, so
  the Store sends it to a standalone Redis only; on a cluster it sends hit.lua per counter.
  Library: status
  KEYS[1] a counter hash   cnt:{ns/key}   KEYS[1..] one per counter (two or more)
  ARGV[1] ttl (ms)   ARGV[2] hour of the hits (hours since 1970, UTC)
  ARGV[3] now (ms; the creation time of the counters this call creates)
  ARGV[4] n, the hits on KEYS[1] (integer > 0)   ARGV[4..] one n per key, in KEYS order
  Returns one reply per key, in KEYS order, each as hit.lua's: the value | {0, n, 1} created
    | {3, value, 0} overflow | {7} full (nothing written for that key: the Store sends it to
    hit_full.lua, which also answers for an error Redis raised on the write, OOM say)
  An error reply, writing nothing, when ARGV is not 3 + 1 per key (the Store never sends that;
  a per-key reply cannot say it, since a counter's value may be -1).
  The Store builds every argument from Python integers; Redis's own HINCRBY refuses an int64
  overflow. ]]

if #ARGV ~= 3 + #KEYS then
  return redis.error_reply('hit_many: ARGV must be 3 + 1 per key')
end
local ttl, hour = ARGV[1], ARGV[2]
local replies = {}
for i = 1, #KEYS do
  local counter, n = KEYS[i], ARGV[i + 3]
  -- pcall wherever Redis may refuse (a key of another type, OOM before the first write, a
  -- replica): a script stops at an error, and the counters before this one are written.
  -- The refused counter answers FULL and hit_full.lua, called for it alone, raises the error.
  local fh = redis.pcall('HGET', counter, 'fh')
  if fh == hour then
    local value = redis.pcall('HINCRBY', counter, 'value', n)
    if type(value) == 'number' then
      redis.call('PEXPIRE', counter, ttl)
      -- Above 2^53 the Lua number HINCRBY returned is rounded: answer Redis's exact text.
      if value < 9007199254740992 and value > -9007199254740992 then
        replies[i] = value
      else
        replies[i] = redis.call('HGET', counter, 'value')
      end
    elseif string.find(value.err, 'overflow', 1, true) then
      replies[i] = {OVERFLOW, redis.call('HGET', counter, 'value'), 0}
    else
      replies[i] = {FULL}
    end
  elseif fh == false and redis.pcall('HSETNX', counter, 'value', n) == 1 then
    redis.call('HSET', counter, 'created', ARGV[3], 'hh', hour, 'fh', hour)
    redis.call('PEXPIRE', counter, ttl)
    replies[i] = {OK, n, 1}
  else
    replies[i] = {FULL}
  end
end
return replies
