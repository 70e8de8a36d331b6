/**
 * The options layer and the error table: every entry point checks its options
 * the same way (read once, unknown names refused with a near-miss hint, numbers
 * in range), and every error the library throws carries a code.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Channel } from '../lib/channel.ts';
import { ErrorCode, isSSEError } from '../lib/errors.ts';
import { prepare, serialize } from '../lib/format.ts';
import { MemoryHistory } from '../lib/history.ts';
import { corsHeaders, preflight } from '../lib/http.ts';
import { SSEStream } from '../lib/stream.ts';
import { suggest } from '../lib/suggest.ts';

describe('suggest(): the near miss of a misspelt option name', () => {
  const names = ['heartbeat', 'maxBufferedBytes', 'highWaterMark', 'cors', 'retry'];
  test('case, one typo, a swap, a missing or extra letter', () => {
    assert.equal(suggest('heartBeat', names), 'heartbeat');
    assert.equal(suggest('heartbeet', names), 'heartbeat');
    assert.equal(suggest('hearbteat', names), 'heartbeat');
    assert.equal(suggest('maxBuferedBytes', names), 'maxBufferedBytes');
    assert.equal(suggest('retries', names), undefined);
    assert.equal(suggest('retyr', names), 'retry');
    assert.equal(suggest('cros', names), 'cors');
    assert.equal(suggest('xyz', names), undefined);
    assert.equal(suggest('completelyDifferent', names), undefined);
  });
});

describe('every entry point: unknown names hinted, each option read once, numbers in range', () => {
  test('unknown names, with a hint for typos (not only case)', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => new SSEStream(undefined, { heartbeet: 5 } as never), /SSEStream: unknown option "heartbeet" \(did you mean "heartbeat"\?\)/],
      [() => new SSEStream(undefined, { cors: { origin: '*', credentails: true } } as never), /unknown option "cors.credentails" \(did you mean "cors.credentials"\?\)/],
      [() => new Channel({ histroy: 5 } as never), /Channel: unknown option "histroy" \(did you mean "history"\?\)/],
      [() => new Channel().add(new SSEStream(), { filtre: () => true } as never), /Channel.add: unknown option "filtre" \(did you mean "filter"\?\)/],
      [() => new MemoryHistory({ limit: 5, maxage: 1 } as never), /MemoryHistory: unknown option "maxage" \(did you mean "maxAge"\?\)/],
      [() => corsHeaders({ orgin: '*' } as never, {}), /unknown option "cors.orgin" \(did you mean "cors.origin"\?\)/],
    ];
    for (const [call, message] of cases) assert.throws(call, { name: 'SSETypeError', code: ErrorCode.INVALID_OPTION, message });
  });

  test('an option with a getter is read once: a retry getter cannot forge an event in the preamble', async () => {
    let reads = 0;
    const options = {
      heartbeat: 0,
      get retry() {
        return reads++ === 0 ? 1000 : ('5\n\ndata: forged' as unknown as number);
      },
    };
    const s = new SSEStream(undefined, options);
    const dest = new PassThrough();
    let body = '';
    dest.on('data', (c: Buffer) => (body += c));
    s.pipe(dest);
    s.end();
    await new Promise((r) => dest.on('end', r));
    assert.equal(body, ':ok\n\nretry: 1000\n\n');
    assert.equal(reads, 1);
  });

  test('numbers out of range are refused at construction (a heartbeat above 2^31-1 ms would fire every 1 ms)', () => {
    const range = (call: () => unknown, message: RegExp) =>
      assert.throws(call, { name: 'SSERangeError', code: ErrorCode.INVALID_OPTION, message });
    range(() => new SSEStream(undefined, { heartbeat: 2 ** 31 }), /heartbeat must be an integer from 0 to 2147483647 \(ms; 0 turns it off\); got 2147483648/);
    range(() => new SSEStream(undefined, { retry: 2 ** 31 }), /retry must be an integer from 0 to 2147483647 \(ms/);
    range(() => new SSEStream(undefined, { highWaterMark: 0 }), /highWaterMark must be an integer from 1 to/);
    range(() => new SSEStream(undefined, { maxBufferedBytes: -1 }), /maxBufferedBytes must be an integer from 0/);
    range(() => new SSEStream(undefined, { cors: { origin: '*', maxAge: -1 } }), /cors.maxAge must be an integer from 0 to 2147483647 \(seconds/);
    range(() => new Channel({ history: 2 ** 31 }), /history must be an integer from 0 to 2147483647 \(events/);
    range(() => new Channel({ replayTimeout: 2 ** 31 }), /replayTimeout must be an integer from 0 to 2147483647 \(ms/);
    range(() => new MemoryHistory({ limit: 0 }), /limit must be an integer from 1/);
    assert.throws(() => new MemoryHistory({} as never), { code: ErrorCode.INVALID_OPTION, message: /limit is required/ });
  });

  test('new Channel({ history: 1e9 }) allocates nothing up front; the history grows as it fills', () => {
    const before = process.memoryUsage().heapUsed;
    const channels = [new Channel({ history: 1e9 }), new Channel({ history: 1e7 })];
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 1024 * 1024, `two channels took ${grown} bytes of heap`);
    const history = channels[1].store as MemoryHistory;
    for (let i = 0; i < 100; i++) channels[1].write({ data: i });
    assert.equal(history.size, 100);
    const after49 = history.since(history.since('unknown').events[49].id);
    assert.equal(after49.found, true);
    assert.deepEqual(after49.events.map((e) => e.frame.split('data: ')[1]), Array.from({ length: 50 }, (_, i) => `${50 + i}\n\n`));
  });
});

describe('every error the library throws carries a code', () => {
  test('a table of wrong calls', async () => {
    const stream = new SSEStream(undefined, { heartbeat: 0 });
    stream.pipe(new PassThrough().resume());
    const calls: Array<() => unknown> = [
      () => serialize(5 as never),
      () => serialize({ event: 5 as never }),
      () => serialize({ id: 'a\nb' }),
      () => serialize({ retry: 'soon' }),
      () => serialize({ comment: {} as never }),
      () => serialize({ data: 1n }),
      () => prepare(new Date() as never),
      () => new SSEStream(undefined, 5 as never),
      () => new SSEStream(undefined, { cors: null as never }),
      () => new SSEStream(undefined, { cors: { origin: 5 as never } }),
      () => new SSEStream(undefined, { cors: { origin: '*', credentials: 'yes' as never } }),
      () => new SSEStream(undefined, { cors: { origin: '*', credentials: true } }),
      () => stream.pipe(new PassThrough()),
      () => stream.write(Buffer.from('x') as never),
      () => new Channel({ store: {} as never }),
      () => new Channel({ store: new MemoryHistory({ limit: 1 }), history: 5 }),
      () => new Channel().add({} as never),
      () => new Channel().add(new SSEStream(), { filter: 5 as never }),
      () => new Channel().add(new SSEStream(), { lastEventId: 'a\nb' }),
      () => new Channel().write(Symbol('x') as never),
      () => new MemoryHistory(null as never),
      () => preflight({ headers: {}, method: 'OPTIONS' }, { writeHead() {}, end() {} }, { origin: [5] } as never),
    ];
    for (const [i, call] of calls.entries()) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      assert.ok(caught !== undefined, `call ${i} did not throw`);
      assert.ok(isSSEError(caught), `call ${i} threw ${String(caught)} without a code`);
      assert.match((caught as { code: string }).code, /^ERR_SSE_[A-Z_]+$/, `call ${i}`);
      assert.ok((Object.values(ErrorCode) as string[]).includes((caught as { code: string }).code), `call ${i}: a code of the table`);
    }
    stream.destroy();
  });
});
