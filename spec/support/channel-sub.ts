/**
 * A channel subscriber without HTTP: an SSEStream piped into a Writable that
 * parses what it gets, so tests can await "n events" instead of sleeping.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createParser } from '../../lib/parser.ts';
import { SSEStream } from '../../lib/stream.ts';
import type { ServerSentEvent } from '../../lib/types.ts';
import { within } from './realworld.ts';

export interface Sub {
  readonly stream: SSEStream;
  readonly events: ServerSentEvent[];
  /** Everything written to the client, preamble included. */
  text(): string;
  /** Resolves once `n` events arrived (rejects after `ms`, or when the stream ends first). */
  waitFor(n: number, ms?: number): Promise<ServerSentEvent[]>;
  /** Resolves once an event with this id arrived. */
  waitForId(id: string, ms?: number): Promise<ServerSentEvent[]>;
  /** Forget what arrived so far (events and text). */
  reset(): void;
  /** Resolves when the stream ended. */
  readonly ended: Promise<void>;
  data(): string[];
  ids(): string[];
}

export function sub(lastEventId?: string): Sub {
  let text = '';
  const events: ServerSentEvent[] = [];
  let waiters: Array<{ done(): boolean; resolve(): void }> = [];
  const parser = createParser({
    onEvent(event) {
      events.push(event);
      waiters = waiters.filter((w) => {
        if (!w.done()) return true;
        w.resolve();
        return false;
      });
    },
  });
  const wait = (done: () => boolean, ms: number, what: string): Promise<ServerSentEvent[]> => {
    if (done()) return Promise.resolve(events.slice());
    return within(
      new Promise<ServerSentEvent[]>((resolve, reject) => {
        waiters.push({ done, resolve: () => resolve(events.slice()) });
        void ended.then(() => !done() && reject(new Error(`the stream ended before ${what} (${events.length} events)`)));
      }),
      ms,
      `${what} (got ${events.length} events)`,
    );
  };
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      text += s;
      parser.feed(s);
      cb();
    },
  });
  const stream = new SSEStream({ headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId } }, { heartbeat: 0 });
  stream.pipe(dest);
  const ended = once(dest, 'finish').then(() => undefined);
  ended.catch(() => undefined);
  return {
    stream,
    events,
    text: () => text,
    ended,
    data: () => events.map((e) => e.data),
    ids: () => events.map((e) => e.lastEventId),
    waitFor: (n, ms = 10_000) => wait(() => events.length >= n, ms, `${n} events`).then((e) => e.slice(0, n)),
    waitForId: (id, ms = 10_000) => wait(() => events.some((e) => e.lastEventId === id), ms, `the event ${id}`),
    reset() {
      events.length = 0;
      text = '';
    },
  };
}
