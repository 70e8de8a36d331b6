/**
 * The Redis clients as the broker sees them: raw commands in, plain values out.
 * No client is imported: the user's connected client is driven through the
 * method each library has for raw commands, and its replies are normalised
 * (node-redis on RESP3 answers XREAD with an object, ioredis 6 with flat
 * pairs, the others with nested pairs). Uses nothing but what every runtime
 * has (no `node:` import, no Buffer).
 */

/** A connection that takes raw commands: `['XADD', key, ...]`. */
export interface Commands {
  send(args: readonly string[]): Promise<unknown>;
}

/** A connection the broker opened itself (a duplicate of the user's), closed by it. */
export interface OwnConnection extends Commands {
  /** Close it now (what it had pending is rejected); resolves once its socket is gone (at most a second later). */
  close(): Promise<void>;
}

/** node-redis v4-v6: `sendCommand([...])`, `duplicate()` then `connect()`, `destroy()` (v5+) or `disconnect()` (v4). */
interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  on(event: 'error' | 'end', listener: (err: unknown) => void): unknown;
  readonly isOpen: boolean;
  destroy?(): unknown;
  disconnect?(): unknown;
}

/** ioredis v5/v6 and iovalkey: `call(cmd, ...args)`, `duplicate()` connects by itself, `disconnect()`. */
interface IoRedisLike {
  call(command: string, ...args: string[]): Promise<unknown>;
  duplicate(): IoRedisLike;
  on(event: 'error' | 'end', listener: (err: unknown) => void): unknown;
  readonly status: string;
  disconnect(): unknown;
}

export type ClientKind = 'node-redis' | 'ioredis';

/** Which family `client` belongs to, or undefined when it is neither. */
export function clientKind(client: unknown): ClientKind | undefined {
  const c = client as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object' || typeof c.duplicate !== 'function' || typeof c.on !== 'function') return undefined;
  // ioredis has a sendCommand too (of a Command object): test for call() first.
  if (typeof c.call === 'function' && typeof c.disconnect === 'function') return 'ioredis';
  if (typeof c.sendCommand === 'function' && typeof c.connect === 'function') return 'node-redis';
  return undefined;
}

export function commandsOf(client: unknown, kind: ClientKind): Commands {
  if (kind === 'ioredis') {
    const c = client as IoRedisLike;
    return { send: (args) => c.call(args[0], ...args.slice(1)) };
  }
  const c = client as NodeRedisLike;
  return { send: (args) => c.sendCommand(args as string[]) };
}

/**
 * A new connection like the user's (same server, credentials, database), handed
 * back at once so that it can be closed even while it connects; `ready`
 * resolves once it takes commands. `onError` hears its connection errors
 * (node-redis crashes the process on an 'error' event nobody listens to).
 */
export function duplicate(client: unknown, kind: ClientKind, onError: (err: unknown) => void): { connection: OwnConnection; ready: Promise<void> } {
  if (kind === 'ioredis') {
    const d = (client as IoRedisLike).duplicate();
    d.on('error', onError);
    const ended = endOf(d);
    const close = (): Promise<void> => {
      if (d.status !== 'end') d.disconnect();
      return bounded(ended);
    };
    // Commands wait in its offline queue until it is connected.
    return { connection: { send: (args) => d.call(args[0], ...args.slice(1)), close }, ready: Promise.resolve() };
  }
  const d = (client as NodeRedisLike).duplicate();
  d.on('error', onError);
  const ended = endOf(d);
  const close = (): Promise<void> => {
    const open = d.isOpen;
    try {
      const done = typeof d.destroy === 'function' ? d.destroy() : d.disconnect?.();
      (done as Promise<unknown> | undefined)?.then?.(undefined, () => undefined);
    } catch {
      // Already closed.
    }
    return open ? bounded(ended) : Promise.resolve();
  };
  return { connection: { send: (args) => d.sendCommand(args as string[]), close }, ready: d.connect().then(() => undefined) };
}

/** Resolves when the client says its connection ended ('end': both families). */
function endOf(d: { on(event: 'end', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => d.on('end', () => resolve()));
}

/** `ended`, or a second later: a close never hangs. */
function bounded(ended: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]).then(() => clearTimeout(timer));
}

const decoder = new TextDecoder();

/** A reply value as text (a client set to return buffers gives Uint8Arrays). */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  return String(value);
}

/** One stream entry: its id and its fields as a flat list. */
export type Entry = [id: string, fields: unknown];

/** XRANGE/XREVRANGE's reply (the same shape from every client): `[[id, [f, v, ...]], ...]`. */
export function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const out: Entry[] = [];
  for (const e of reply as unknown[]) {
    if (Array.isArray(e) && e.length >= 2) out.push([text(e[0]), e[1]]);
  }
  return out;
}

/**
 * XREAD's reply as `[key, entries]` pairs, whatever the client and protocol:
 * null (timeout), nested pairs `[[key, entries], ...]` (RESP2, iovalkey), flat
 * pairs `[key, entries, ...]` (ioredis 6 on RESP3), an object or a Map
 * `{ key: entries }` (node-redis on RESP3).
 */
export function streamsOf(reply: unknown): Array<[string, Entry[]]> {
  if (reply === null || reply === undefined) return [];
  const out: Array<[string, Entry[]]> = [];
  if (Array.isArray(reply)) {
    if (reply.length > 0 && Array.isArray(reply[0])) {
      for (const pair of reply as unknown[][]) out.push([text(pair[0]), entriesOf(pair[1])]);
    } else {
      for (let i = 0; i + 1 < reply.length; i += 2) out.push([text(reply[i]), entriesOf(reply[i + 1])]);
    }
    return out;
  }
  if (reply instanceof Map) {
    for (const [key, entries] of reply) out.push([text(key), entriesOf(entries)]);
    return out;
  }
  if (typeof reply === 'object') {
    for (const key of Object.keys(reply)) out.push([key, entriesOf((reply as Record<string, unknown>)[key])]);
  }
  return out;
}

/** A stream entry id as Redis writes them: `<ms>-<seq>`, decimal, no leading zeros. */
const ENTRY_ID = /^(?:0|[1-9][0-9]{0,19})-(?:0|[1-9][0-9]{0,19})$/;

export function isEntryId(id: string): boolean {
  return ENTRY_ID.test(id);
}

/** Order of two well-formed entry ids (without BigInt: by length, then text, of each part). */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ms = compareDigits(a.slice(0, da), b.slice(0, db));
  return ms !== 0 ? ms : compareDigits(a.slice(da + 1), b.slice(db + 1));
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
