/**
 * Options: every entry point's names, checks and defaults in one place. Each
 * option is read exactly once (a getter cannot pass the check with one value and
 * be used with another), checked at the call that passed it, and the resolved
 * values are what the rest of the library uses. Neutral: no `node:` import.
 */
import { MAX_TIMER_MS, rangeError, typeError, type SSEError } from './errors.js';
import { suggest } from './suggest.js';
import { isValidId } from './format.js';
import { ENCODINGS, type Encoding } from './encoding.js';
import type { Broker, CorsOrigin, HistoryStore, PreparedEvent } from './types.js';

/** Checks one option's value (undefined when absent) and returns what to use. */
type Rule<T> = (value: unknown, where: string, name: string) => T;
type Rules = Record<string, Rule<unknown>>;
export type Resolved<R extends Rules> = { readonly [K in keyof R]: ReturnType<R[K]> };

/**
 * Read `input` (an options object, or undefined/null for all defaults) against
 * `rules`: unknown names are refused with a near-miss hint, then every known
 * name is read once and checked.
 */
export function readOptions<R extends Rules>(where: string, input: unknown, rules: R, prefix = ''): Resolved<R> {
  const names = Object.keys(rules);
  if (input === undefined) input = {};
  else if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw typeError('ERR_SSE_INVALID_OPTION', where, `options must be an object with any of ${names.join(', ')}`, input);
  }
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (Object.prototype.hasOwnProperty.call(rules, key)) continue;
    const near = suggest(key, names);
    throw typeError(
      'ERR_SSE_INVALID_OPTION',
      where,
      `unknown option "${prefix}${key}"${near === undefined ? '' : ` (did you mean "${prefix}${near}"?)`}; allowed: ${names.map((n) => prefix + n).join(', ')}`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const name of names) out[name] = rules[name](given[name], where, prefix + name);
  return out as Resolved<R>;
}

/**
 * An integer from `min` to `max`, in `unit`; `fallback` when absent. `0` means
 * "off" where `min` is 0, and the message says so.
 */
export function int(min: number, max: number, unit: string, fallback: number): Rule<number>;
export function int(min: number, max: number, unit: string, fallback?: undefined): Rule<number | undefined>;
export function int(min: number, max: number, unit: string, fallback?: number): Rule<number | undefined> {
  return (value, where, name) => {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
    const what = `${name} must be an integer from ${min} to ${max} (${unit}${min === 0 ? '; 0 turns it off' : ''})`;
    throw typeof value === 'number'
      ? rangeError('ERR_SSE_INVALID_OPTION', where, what, value)
      : typeError('ERR_SSE_INVALID_OPTION', where, what, value);
  };
}

/** A function (`signature` shown in the message), or undefined when absent. */
export function fn<F extends (...args: any[]) => unknown>(signature: string): Rule<F | undefined> {
  return (value, where, name) => {
    if (value === undefined || typeof value === 'function') return value as F | undefined;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be a function ${signature} or undefined`, value);
  };
}

/** A function that must be given. */
function requiredFn<F extends (...args: any[]) => unknown>(signature: string): Rule<F> {
  return (value, where, name) => {
    if (typeof value === 'function') return value as F;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be a function ${signature}`, value);
  };
}

/** An object with the given methods (a pluggable store), or undefined when absent. */
export function methods<T>(kind: string, required: readonly string[]): Rule<T | undefined> {
  return (value, where, name) => {
    if (value === undefined) return undefined;
    const v = value as Record<string, unknown> | null;
    if (v !== null && typeof v === 'object' && required.every((m) => typeof v[m] === 'function')) return value as T;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be ${kind} with ${required.map((m) => `${m}()`).join(', ')}`, value);
  };
}

/** A string option checked by `valid` (`what` says what is allowed), or undefined when absent. */
export function text(what: string, valid: (s: string) => boolean): Rule<string | undefined> {
  return (value, where, name) => {
    if (value === undefined || (typeof value === 'string' && valid(value))) return value as string | undefined;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be ${what}`, value);
  };
}

/** `end(cb)`, `end(message, cb)` and `end(message, encoding, cb)` as the message and the callback. */
export function endArguments(message: unknown, encoding: unknown, cb: unknown): [unknown, (() => void) | undefined] {
  if (typeof message === 'function') return [undefined, message as () => void];
  if (typeof encoding === 'function') return [message, encoding as () => void];
  return [message, typeof cb === 'function' ? (cb as () => void) : undefined];
}

// ----------------------------------------------------------------------- CORS

/** A `cors` option, resolved: how to answer any `Origin`. */
export interface Cors {
  /** `origin: '*'` without credentials: answer `*` to everyone. */
  readonly wildcard: boolean;
  readonly credentials: boolean;
  /** Seconds a preflight answer may be cached. */
  readonly maxAge: number;
  /** Whether a single, well-formed origin (never `'null'` unless listed) is allowed. */
  allows(origin: string): boolean;
}

const CORS_RULES = {
  origin: (value: unknown, where: string, name: string): CorsOrigin => {
    const ok =
      typeof value === 'string' ||
      typeof value === 'function' ||
      value instanceof RegExp ||
      (Array.isArray(value) && value.every((o) => typeof o === 'string'));
    if (ok) return value as CorsOrigin;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be a string, an array of strings, a RegExp or a function (origin) => boolean`, value);
  },
  credentials: (value: unknown, where: string, name: string): boolean => {
    if (value === undefined || typeof value === 'boolean') return value === true;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be a boolean`, value);
  },
  maxAge: int(0, MAX_TIMER_MS, 'seconds', 600),
};

/** The `cors` option: checked and turned into a matcher once, at construction. */
export function cors(value: unknown, where: string, name: string): Cors | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be an object { origin, credentials?, maxAge? }`, value);
  }
  const o = readOptions(where, value, CORS_RULES, `${name}.`);
  const origin = o.origin;
  if (origin === '*' && o.credentials) {
    throw typeError(
      'ERR_SSE_INVALID_OPTION',
      where,
      `${name}.origin '*' cannot be combined with credentials (browsers refuse it, and echoing every origin with cookies must be explicit): list the origins, or pass origin: () => true`,
    );
  }
  return { wildcard: origin === '*', credentials: o.credentials, maxAge: o.maxAge, allows: matcher(origin) };
}

function matcher(origin: CorsOrigin): (o: string) => boolean {
  if (typeof origin === 'string') return origin === '*' ? isOrigin : (o) => o === origin;
  if (typeof origin === 'function') return (o) => o !== 'null' && origin(o) === true;
  if (origin instanceof RegExp) {
    // Anchored, without g/y state: /app\.example/ must not admit https://evilapp.example.
    const whole = new RegExp(`^(?:${origin.source})$`, origin.flags.replace(/[gy]/g, ''));
    return (o) => o !== 'null' && whole.test(o);
  }
  const set = new Set(origin);
  return (o) => set.has(o);
}

// `'*'` answers `*`, never an echo, but only to a well-formed origin.
function isOrigin(o: string): boolean {
  return o !== 'null';
}

// ---------------------------------------------------------------- compress

/** A `compress` option, resolved: what a compressing sink is built with. */
export interface CompressSettings {
  /** The encodings to offer, in order of preference on equal client weights. */
  readonly encodings: readonly Encoding[];
  readonly level: number;
  readonly windowBits: number;
  readonly memLevel: number;
  readonly brotliQuality: number;
  readonly zstdLevel: number;
}

// What people write for an encoding's token.
const ENCODING_ALIASES: Record<string, Encoding> = { brotli: 'br', 'x-gzip': 'gzip', zlib: 'deflate', zstandard: 'zstd' };

function encodings(value: unknown, where: string, name: string): readonly Encoding[] {
  if (value === undefined) return ENCODINGS;
  const what = `${name} must be a non-empty array of ${ENCODINGS.map((e) => `'${e}'`).join(', ')} (the order breaks ties between equal client weights)`;
  if (!Array.isArray(value) || value.length === 0) throw typeError('ERR_SSE_INVALID_OPTION', where, what, value);
  const out: Encoding[] = [];
  for (const e of value as unknown[]) {
    if (typeof e === 'string' && (ENCODINGS as readonly string[]).includes(e)) {
      if (out.includes(e as Encoding)) throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} lists '${e}' twice`);
      out.push(e as Encoding);
      continue;
    }
    const near = typeof e === 'string' ? (ENCODING_ALIASES[e.toLowerCase()] ?? suggest(e, ENCODINGS)) : undefined;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${what}${near === undefined ? '' : ` (did you mean '${near}'?)`}`, e);
  }
  return Object.freeze(out);
}

// Defaults measured in bench/compress.bench.ts (README, "Compression"): the
// windows of 4 KiB hold a dozen ~300 B events, which is where an event stream's
// redundancy is; larger ones cost memory per connection and saved no byte.
const COMPRESS_RULES = {
  encodings,
  level: int(1, 9, 'gzip and deflate level', 6),
  windowBits: int(10, 15, 'log2 of the window in bytes, for every encoding', 12),
  memLevel: int(1, 9, 'gzip and deflate memLevel', 5),
  brotliQuality: int(1, 11, 'brotli quality', 3),
  zstdLevel: int(1, 19, 'zstd level', 3),
};

const COMPRESS_DEFAULTS: CompressSettings = Object.freeze(readOptions('SSEStream', {}, COMPRESS_RULES));

/** The `compress` option: off (absent or false), the defaults (true), or tuned (an object). */
export function compress(value: unknown, where: string, name: string): CompressSettings | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return COMPRESS_DEFAULTS;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be true, false, or an object { ${Object.keys(COMPRESS_RULES).map((k) => `${k}?`).join(', ')} }`, value);
  }
  return Object.freeze(readOptions(where, value, COMPRESS_RULES, `${name}.`));
}

// ------------------------------------------------------- every entry point

const MIB = 1024 * 1024;

/** `new SSEStream(req, options)` (and the web stream): see `SSEStreamOptions` for what each does. */
export const STREAM_RULES = {
  heartbeat: int(0, MAX_TIMER_MS, 'ms', 15_000),
  maxBufferedBytes: int(0, Number.MAX_SAFE_INTEGER, 'bytes', 4 * MIB),
  // 64 KiB: per-batch costs (push, Buffer, chunk header, writev) spread over 4x the
  // events of 16 KiB; measured 1.70M -> 2.03M events/s on the throughput bench.
  highWaterMark: int(1, 1024 * MIB, 'bytes', 64 * 1024),
  cors,
  retry: int(0, MAX_TIMER_MS, 'ms'),
  compress,
};

/**
 * `sseResponse(request, handler, options)`: see `WebStreamOptions`. Every
 * `SSEStream` option is one here too, so an option added above must also work
 * in web-stream.ts (or be left out of this table).
 */
export const WEB_STREAM_RULES = {
  ...STREAM_RULES,
  maxDuration: int(0, MAX_TIMER_MS, 'ms', 0),
};

/** `new Channel(options)`: see `ChannelOptions`. */
export const CHANNEL_RULES = {
  history: int(0, 2 ** 31 - 1, 'events', 0),
  historyMaxAge: int(0, Number.MAX_SAFE_INTEGER, 'ms', 0),
  store: methods<HistoryStore>('a history store', ['nextId', 'append', 'since']),
  replayTimeout: int(0, MAX_TIMER_MS, 'ms', 10_000),
  broker: methods<Broker>('a broker', ['topic']),
  name: text('a non-empty string', (s) => s.length > 0),
};

/** `channel.add(stream, options)`: see `AddOptions`. */
export const ADD_RULES = {
  filter: fn<(event: PreparedEvent) => boolean>('(event) => boolean'),
  lastEventId: text('a string without CR, LF or U+0000', isValidId),
};

/** `parse()` and `SSEParser`: the reader's bounds (see `ParseOptions`). */
export const PARSE_RULES = {
  onError: fn<(error: SSEError) => void>('(error) => void'),
  maxLineLength: int(0, Number.MAX_SAFE_INTEGER, 'UTF-16 code units', 1_048_576),
  maxEventSize: int(0, Number.MAX_SAFE_INTEGER, 'UTF-16 code units of data and type', 16_777_216),
};

/** `createParser()`: the callbacks and the bounds (see `ParserOptions`). */
export const PARSER_RULES = {
  onEvent: requiredFn<(event: unknown) => void>('(event) => void'),
  onRetry: fn<(ms: number) => void>('(ms) => void'),
  onComment: fn<(text: string) => void>('(text) => void'),
  ...PARSE_RULES,
};

/** `new MemoryHistory(options)`: see `MemoryHistoryOptions`. */
export const HISTORY_RULES = {
  limit: (value: unknown, where: string, name: string): number => {
    if (value === undefined) throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} is required: how many events to keep (at least 1)`);
    return int(1, 2 ** 31 - 1, 'events', 1)(value, where, name);
  },
  maxAge: int(0, Number.MAX_SAFE_INTEGER, 'ms', 0),
};

/** `new RedisBroker(client, options)`: see `RedisBrokerOptions` in redis.ts. */
export const REDIS_RULES = {
  prefix: (value: unknown, where: string, name: string): string => {
    if (value === undefined) return 'sse:';
    if (typeof value === 'string') return value;
    throw typeError('ERR_SSE_INVALID_OPTION', where, `${name} must be a string (put before every channel name to make its key)`, value);
  },
  maxLen: int(1, 2 ** 31 - 1, 'events per channel', 10_000),
  maxAge: int(0, Number.MAX_SAFE_INTEGER, 'ms', 0),
  tail: int(0, 100_000, 'events per channel kept in memory', 1000),
  timeout: int(1, MAX_TIMER_MS, 'ms', 5000),
};
