// Lua scripts: each runs in one round trip, expiry kept by sorted-set scores
// and key TTLs in Redis (never by timers in Node).
//
// Message members: `<order>|<targets JSON>|<message JSON>`, where <order> is a
// zero-padded sequence plus the sender's id, so members are unique and equal
// millisecond scores still pop in send order.

/** send: KEYS[1] channel key. ARGV: now, expiry ms, capacity, member, ttl s. Returns 1, or 0 when full. */
export const SEND = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
`

/**
 * groupSend on one server: drops lapsed members, then writes one message per
 * channel key (one per process for process-local channels, naming its targets).
 * KEYS[1] group key. ARGV: now, group expiry ms, expiry ms, capacity, channel key
 * prefix, order prefix, message JSON, ttl s. Returns the members skipped as full.
 */
export const GROUP_SEND = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local byKey = {}
local order = {}
for _, channel in ipairs(members) do
  local bang = string.find(channel, '!', 1, true)
  local key = ARGV[5] .. (bang and string.sub(channel, 1, bang) or channel)
  local targets = byKey[key]
  if not targets then
    targets = {}
    byKey[key] = targets
    table.insert(order, key)
  end
  table.insert(targets, channel)
end
local full = {}
local expiry = now - tonumber(ARGV[3])
local capacity = tonumber(ARGV[4])
for i, key in ipairs(order) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', expiry)
  if redis.call('ZCARD', key) < capacity then
    redis.call('ZADD', key, now, ARGV[6] .. string.format('%04d', i) .. '|' .. cjson.encode(byKey[key]) .. '|' .. ARGV[7])
    redis.call('EXPIRE', key, ARGV[8])
  else
    for _, channel in ipairs(byKey[key]) do table.insert(full, channel) end
  end
end
return full
`

/** Members of a group after dropping lapsed ones: KEYS[1] group key, ARGV: now, group expiry ms. */
export const GROUP_MEMBERS = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`

/**
 * Writes one message per key (groupSend across several servers). KEYS: channel
 * keys. ARGV: now, expiry ms, capacity, order prefix, message JSON, ttl s, then
 * one targets JSON per key. Returns the indexes (1-based) of full keys.
 */
export const DELIVER = `
local now = tonumber(ARGV[1])
local expiry = now - tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local full = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', expiry)
  if redis.call('ZCARD', key) < capacity then
    redis.call('ZADD', key, now, ARGV[4] .. string.format('%04d', i) .. '|' .. ARGV[6 + i] .. '|' .. ARGV[5])
    redis.call('EXPIRE', key, ARGV[6])
  else
    table.insert(full, i)
  end
end
return full
`
