"""The Lua scripts of ``RedisStore`` (layout: see ``redis_store``). Each runs atomically.

ARGV[1] is always the key prefix.
"""

# ARGV: prefix, the writer's epoch (must still be Redis's), the writer's fencing token (must still
# be Redis's: a stale owner that wakes up cannot write), log length, then the core state part:
# mode ("" = untouched, "merge", "replace"), meta JSON, count n, then n pairs call id, call JSON
# ("" = removed; "replace" drops every stored call first); then per delta: dn, seq, call id, op,
# frame. Deltas at or below the DN's seq are skipped. One call carries a whole group commit.
APPEND = """
local p = ARGV[1]
if redis.call('GET', p .. ':epoch') ~= ARGV[2] then return redis.error_reply('EPOCH changed') end
if (redis.call('GET', p .. ':token') or '') ~= ARGV[3] then return redis.error_reply('FENCED') end
local maxlen = tonumber(ARGV[4])
local mode = ARGV[5]
local first = 8 + 2 * tonumber(ARGV[7])
local seqs, applied = {}, 0
for i = first, #ARGV, 5 do
  local dn, seq, id, op, frame = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local cur = seqs[dn] or tonumber(redis.call('HGET', p .. ':seq', dn) or '0')
  if seq > cur then
    local log, calls = p .. ':log:' .. dn, p .. ':calls:' .. dn
    if seq > cur + 1 then redis.call('DEL', log) end
    if op == 'removed' then
      redis.call('HDEL', calls, id)
    else
      redis.call('HSET', calls, id, frame)
    end
    redis.call('RPUSH', log, frame)
    redis.call('PUBLISH', p .. ':deltas', frame)
    seqs[dn] = seq
    applied = applied + 1
  end
end
for dn, seq in pairs(seqs) do
  redis.call('LTRIM', p .. ':log:' .. dn, -maxlen, -1)
  redis.call('HSET', p .. ':seq', dn, seq)
end
if mode ~= '' then
  local calls = p .. ':core:calls'
  if mode == 'replace' then redis.call('DEL', calls) end
  redis.call('SET', p .. ':core:meta', ARGV[6])
  for i = 8, first - 1, 2 do
    if ARGV[i + 1] == '' then
      redis.call('HDEL', calls, ARGV[i])
    else
      redis.call('HSET', calls, ARGV[i], ARGV[i + 1])
    end
  end
end
return applied
"""

# Readers and the new writer start the stream if Redis has none (ARGV[2]: a fresh epoch), so every
# instance then agrees on it. A writer whose mirror holds another epoch rewrites Redis (reseed).
EPOCH = """
local p = ARGV[1]
local epoch = redis.call('GET', p .. ':epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', p .. ':epoch', epoch)
end
"""

SNAPSHOT = EPOCH + """
local dn = ARGV[3]
return {epoch, redis.call('HGET', p .. ':seq', dn) or '0', redis.call('HVALS', p .. ':calls:' .. dn)}
"""

SINCE = EPOCH + """
local dn = ARGV[3]
local cur = tonumber(redis.call('HGET', p .. ':seq', dn) or '0')
local missing = cur - tonumber(ARGV[4])
local frames = {}
if missing > 0 then frames = redis.call('LRANGE', p .. ':log:' .. dn, -missing, -1) end
return {epoch, tostring(cur), frames}
"""

# The core state: meta JSON or "" (none saved), and the calls (HGETALL).
CORE = """
local function core(p)
  return redis.call('GET', p .. ':core:meta') or '', redis.call('HGETALL', p .. ':core:calls')
end
"""

LOAD_CORE = CORE + """
return {core(ARGV[1])}
"""

# Everything, atomically: the new writer's mirror starts from it.
DUMP = CORE + EPOCH + """
local meta, calls = core(p)
local out = {epoch, meta, calls}
local seqs = redis.call('HGETALL', p .. ':seq')
for i = 1, #seqs, 2 do
  local dn = seqs[i]
  table.insert(out, dn)
  table.insert(out, redis.call('LRANGE', p .. ':log:' .. dn, 0, -1))
  table.insert(out, redis.call('HGETALL', p .. ':calls:' .. dn))
  table.insert(out, seqs[i + 1])
end
return out
"""

# The lease, with a fencing token: a new holder gets "<n>:<instance>" (n counts every acquisition,
# so it never repeats while Redis keeps its data, and the instance part keeps two instances apart
# after Redis lost it). APPEND refuses any other token. ARGV: prefix, instance id, TTL in ms.
# Returns {token, epoch}: {"", ""} when another instance holds the lease.
LEASE = """
local p = ARGV[1]
local owner = p .. ':owner'
local cur = redis.call('GET', owner)
local token
if cur == false then
  token = redis.call('INCR', p .. ':fence') .. ':' .. ARGV[2]
  redis.call('SET', p .. ':token', token)
  redis.call('SET', owner, ARGV[2], 'PX', ARGV[3])
elseif cur == ARGV[2] then
  redis.call('PEXPIRE', owner, ARGV[3])
  token = redis.call('GET', p .. ':token') or ''
else
  return {'', ''}
end
return {token, redis.call('GET', p .. ':epoch') or ''}
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
