// Lua scripts: each runs in one round trip, expiry kept by sorted-set scores
// and key TTLs in Redis (never by timers in Node).
//
// Message members: `<order>|<targets>|<message JSON>`: <order> is a zero-padded
// sequence plus the sender's id (members are unique); <targets> the
// comma-joined channels it is for. A message's score is its sender's clock,
// moved just past the key's newest score when that is not earlier: messages
// pop in the order Redis took them, whichever process sent them, even within
// one millisecond or with clocks apart.
const SCORE = `
local function scoreFor (key, now)
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if newest[2] and tonumber(newest[2]) >= now then now = tonumber(newest[2]) + 0.001 end
  -- As a string: Lua would print the number with 14 digits, losing the fraction.
  return string.format('%.17g', now)
end
`

// A command that reaches Redis after its deadline (ms, Redis's clock) does
// nothing: its sender has already given up on it (redis-shard.ts).
const LATE = `
local function late (deadline)
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(deadline) then
    return redis.error_reply('FAV_LATE the command reached Redis after its deadline')
  end
end
`
//
// A group is two keys: a sorted set `gr:<group>` of channels scored by when
// they joined (expiry), and a hash `gk:<group>` from each channel key (a
// process key for process channels) to its members, comma-joined. groupSend
// reads the hash: its cost follows the number of processes, not of members.

/** send: KEYS[1] channel key. ARGV: now, expiry ms, capacity, member, ttl s, deadline. Returns 1, or 0 when full. */
export const SEND = SCORE + LATE + `
local refused = late(ARGV[6])
if refused then return refused end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], scoreFor(KEYS[1], now), ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
`

/** groupAdd: KEYS: group set, group hash. ARGV: now, channel, its channel key name, ttl s, deadline. */
export const GROUP_ADD = LATE + `
local refused = late(ARGV[5])
if refused then return refused end
if redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  local list = redis.call('HGET', KEYS[2], ARGV[3])
  if list then redis.call('HSET', KEYS[2], ARGV[3], list .. ',' .. ARGV[2]) else redis.call('HSET', KEYS[2], ARGV[3], ARGV[2]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
`

// Removes one name from a comma-joined list (names hold no commas).
const WITHOUT = `
local function without (list, name)
  local kept = {}
  for item in string.gmatch(list, '[^,]+') do
    if item ~= name then table.insert(kept, item) end
  end
  return table.concat(kept, ',')
end
`

/** groupDiscard: KEYS: group set, group hash. ARGV: channel, its channel key name. */
export const GROUP_DISCARD = WITHOUT + `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local list = redis.call('HGET', KEYS[2], ARGV[2])
  if list then
    local rest = without(list, ARGV[1])
    if rest == '' then redis.call('HDEL', KEYS[2], ARGV[2]) else redis.call('HSET', KEYS[2], ARGV[2], rest) end
  end
end
return 1
`

// Drops lapsed members (rare: checks the oldest first) and returns the hash
// as { key name, members, key name, members... }.
const TARGETS = WITHOUT + `
local function targets (now, groupExpiry)
  local limit = now - groupExpiry
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] and tonumber(oldest[2]) <= limit then
    local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', limit)
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', limit)
    for _, channel in ipairs(lapsed) do
      local bang = string.find(channel, '!', 1, true)
      local field = bang and string.sub(channel, 1, bang) or channel
      local list = redis.call('HGET', KEYS[2], field)
      if list then
        local rest = without(list, channel)
        if rest == '' then redis.call('HDEL', KEYS[2], field) else redis.call('HSET', KEYS[2], field, rest) end
      end
    end
  end
  return redis.call('HGETALL', KEYS[2])
end
`

/**
 * groupSend on one server: one message per channel key, naming its members.
 * KEYS: group set, group hash. ARGV: now, group expiry ms, expiry ms,
 * capacity, channel key prefix, order prefix, message JSON, ttl s, deadline.
 * Returns the member lists (comma-joined) that were skipped as full.
 */
export const GROUP_SEND = TARGETS + SCORE + LATE + `
local refused = late(ARGV[9])
if refused then return refused end
local now = tonumber(ARGV[1])
local fields = targets(now, tonumber(ARGV[2]))
local full = {}
local expiry = now - tonumber(ARGV[3])
local capacity = tonumber(ARGV[4])
for i = 1, #fields, 2 do
  local key = ARGV[5] .. fields[i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', expiry)
  if redis.call('ZCARD', key) < capacity then
    redis.call('ZADD', key, scoreFor(key, now), ARGV[6] .. string.format('%04d', i) .. '|' .. fields[i + 1] .. '|' .. ARGV[7])
    redis.call('EXPIRE', key, ARGV[8])
  else
    table.insert(full, fields[i + 1])
  end
end
return full
`

/** The group's channel keys and members, lapsed ones dropped: KEYS: group set, hash. ARGV: now, group expiry ms. */
export const GROUP_TARGETS = TARGETS + `
return targets(tonumber(ARGV[1]), tonumber(ARGV[2]))
`

/**
 * Writes one message per key (a groupSend across several servers, or with
 * capacities per channel). KEYS: channel keys. ARGV: now, expiry ms, order
 * prefix, message, ttl s, deadline, then the members (comma-joined) per key,
 * then the capacity per key. Returns the indexes (1-based) of full keys.
 */
export const DELIVER = SCORE + LATE + `
local refused = late(ARGV[6])
if refused then return refused end
local now = tonumber(ARGV[1])
local expiry = now - tonumber(ARGV[2])
local full = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', expiry)
  if redis.call('ZCARD', key) < tonumber(ARGV[6 + #KEYS + i]) then
    redis.call('ZADD', key, scoreFor(key, now), ARGV[3] .. string.format('%04d', i) .. '|' .. ARGV[6 + i] .. '|' .. ARGV[4])
    redis.call('EXPIRE', key, ARGV[5])
  else
    table.insert(full, i)
  end
end
return full
`
