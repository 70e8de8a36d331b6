/**
 * How `RedisBroker` stores an event: the Lua script behind every XADD. Neutral:
 * no `node:` import.
 */

/**
 * One XADD per event, in a script so that each entry also names the entry
 * before it (`p`): every reader then knows exactly when entries it had not read
 * were removed (trimmed while it fell behind, lost in a restart without
 * persistence or a failover), which neither XREAD nor the ids can tell. The
 * events published in one tick go in one call (ARGV: maxLen, maxAge, then frame
 * and json flag per event), which answers their ids in order. MAXLEN ~ bounds
 * the stream; with a max age, MINID ~ by Redis's own clock. Neither ever
 * removes the entry just added, so `p` is always the previous XADD's entry.
 */
export const SCRIPT = [
  "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)",
  "local prev = ''",
  'if last[1] then prev = last[1][1] end',
  'local ids = {}',
  'for i = 3, #ARGV - 1, 2 do',
  "  if ARGV[i + 1] == 'j' then",
  "    prev = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'p', prev, 'f', ARGV[i], 'd', 'j')",
  '  else',
  "    prev = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'p', prev, 'f', ARGV[i])",
  '  end',
  '  ids[#ids + 1] = prev',
  'end',
  "if ARGV[2] ~= '0' then",
  "  local t = redis.call('TIME')",
  '  local min = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2])',
  "  if min > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', min)) end",
  'end',
  'return ids',
].join('\n');

/** SHA-1 of SCRIPT (spec/redis.spec.ts checks it), for EVALSHA. */
export const SCRIPT_SHA = 'a699a552ddd41f518ca9ebccc36dc6acc3086963';

