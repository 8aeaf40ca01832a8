--[[ idempotency_claim: claim an Idempotency-Key for one request, or read its first answer.
  KEYS[1] idempotency record   cnt:idem:{token}:<key digest>
  ARGV[1] claim lifetime (ms > 0): how long an unfinished claim blocks a retry
  Returns {status, answer}: 0 claimed (answer '') | 4 exists (answer: the stored answer,
    '' while the first request is still running) | {-1, argument name} invalid argument ]]

if positive_parse(ARGV[1]) == nil then return {INVALID, 'claim_ms'} end
local answer = redis.call('GET', KEYS[1])
if answer ~= false then return {EXISTS, answer} end
redis.call('SET', KEYS[1], '', 'PX', ARGV[1])
return {OK, ''}
