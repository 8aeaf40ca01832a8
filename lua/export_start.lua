--[[ export_start: record a new export job, owned by one worker that must renew its lease.
  KEYS[1] export job hash   cnt:exp:{ns}:<id>
  ARGV[1] export id (int > 0)   ARGV[2] namespace   ARGV[3] start_from_hit_id (int >= 0)
  ARGV[4] until_hit_id (int >= 0, the log's newest id when the job starts)
  ARGV[5] now (ms)   ARGV[6] worker id   ARGV[7] lease until (ms)   ARGV[8] retention (ms > 0)
  Returns {status}: 0 ok | 4 exists | {-1, argument name} invalid argument ]]

if positive_parse(ARGV[1]) == nil then return {INVALID, 'id'} end
if type(ARGV[2]) ~= 'string' or ARGV[2] == '' then return {INVALID, 'namespace'} end
if nonneg_parse(ARGV[3]) == nil then return {INVALID, 'start_from_hit_id'} end
if nonneg_parse(ARGV[4]) == nil then return {INVALID, 'until_hit_id'} end
if nonneg_parse(ARGV[5]) == nil then return {INVALID, 'now'} end
if type(ARGV[6]) ~= 'string' or ARGV[6] == '' then return {INVALID, 'worker'} end
if nonneg_parse(ARGV[7]) == nil then return {INVALID, 'lease_until'} end
if positive_parse(ARGV[8]) == nil then return {INVALID, 'retention'} end

if redis.call('EXISTS', KEYS[1]) == 1 then return {EXISTS} end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'namespace', ARGV[2], 'start_from_hit_id', ARGV[3],
  'until_hit_id', ARGV[4], 'last_hit_id', ARGV[3], 'created_at', ARGV[5], 'num_rows', '0',
  'state', 'running', 'worker', ARGV[6], 'lease_until', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {OK}
