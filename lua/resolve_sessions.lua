--[[ resolve_sessions: map visitor digests to session ids that live a fixed time, as
  GoatCounter's sessions do: the first hit of a digest keeps the id offered for it, later hits
  within the lifetime get that same id back (so every instance agrees). The raw IP never gets
  here: a digest is sha256(namespace, IP, User-Agent), made by the caller.
  KEYS[1..n] one session key per digest   cnt:gs:{ns}:ses:<digest>
  ARGV[1] lifetime (ms > 0)   ARGV[2..n+1] the id offered for each key (non-empty)
  Returns {status, id for KEYS[1], ..., id for KEYS[n]}: status 0 ok
    | {-1, argument name} invalid argument ]]

if positive_parse(ARGV[1]) == nil then return {INVALID, 'lifetime'} end
if #ARGV ~= #KEYS + 1 then return {INVALID, 'ids'} end
local reply = {OK}
for i, key in ipairs(KEYS) do
  local offered = ARGV[i + 1]
  if offered == '' then return {INVALID, 'ids'} end
  local current = redis.call('GET', key)
  if current == false then
    redis.call('SET', key, offered, 'PX', ARGV[1])
    current = offered
  end
  reply[#reply + 1] = current
end
return reply
