import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize, prepare, dataLines, PREAMBLE, HEARTBEAT } from '../lib/format.ts';
import { ErrorCode, SSERangeError, SSETypeError } from '../lib/errors.ts';

describe('serialize: bytes identical to ssestream 1.1.0 where it was right', () => {
  test('all fields in ssestream order: comment, event, id, retry, data', () => {
    assert.equal(
      serialize({ data: 'd', id: 'i', event: 'e', retry: 5, comment: 'c' }),
      ': c\nevent: e\nid: i\nretry: 5\ndata: d\n\n',
    );
  });
  test('string data', () => assert.equal(serialize({ data: 'hello' }), 'data: hello\n\n'));
  test('object data is JSON-stringified', () => {
    assert.equal(serialize({ data: { a: 1, b: 'x' } }), 'data: {"a":1,"b":"x"}\n\n');
  });
  test('array data', () => assert.equal(serialize({ data: [1, 'two'] }), 'data: [1,"two"]\n\n'));
  test('multi-line data: one data line per line, LF', () => {
    assert.equal(serialize({ data: 'a\nb\nc' }), 'data: a\ndata: b\ndata: c\n\n');
  });
  test('the seed article message', () => {
    assert.equal(
      serialize({ id: '1573464662000', data: 'Hello, World!', event: 'event1' }),
      'event: event1\nid: 1573464662000\ndata: Hello, World!\n\n',
    );
  });
  test('preamble and heartbeat constants', () => {
    assert.equal(PREAMBLE, ':ok\n\n');
    assert.equal(HEARTBEAT, ':\n\n');
  });
});

describe('serialize: beyond ssestream', () => {
  test('falsy data is sent, not dropped', () => {
    assert.equal(serialize({ data: 0 }), 'data: 0\n\n');
    assert.equal(serialize({ data: false }), 'data: false\n\n');
    assert.equal(serialize({ data: '' }), 'data: \n\n');
    assert.equal(serialize({ data: null }), 'data: null\n\n');
  });
  test('numbers and booleans', () => {
    assert.equal(serialize({ data: 5 }), 'data: 5\n\n');
    assert.equal(serialize({ data: -1.5 }), 'data: -1.5\n\n');
    assert.equal(serialize({ data: true }), 'data: true\n\n');
  });
  test('id 0 and numeric ids', () => {
    assert.equal(serialize({ id: 0, data: 'x' }), 'id: 0\ndata: x\n\n');
    assert.equal(serialize({ id: 42 }), 'id: 42\n\n');
  });
  test('empty id is sent (it resets the client\'s last event id)', () => {
    assert.equal(serialize({ id: '', data: 'x' }), 'id: \ndata: x\n\n');
  });
  test('retry 0 and digit strings', () => {
    assert.equal(serialize({ retry: 0 }), 'retry: 0\n\n');
    assert.equal(serialize({ retry: '2500' }), 'retry: 2500\n\n');
  });
  test('empty event is omitted (the client reads it as "message" either way)', () => {
    assert.equal(serialize({ event: '', data: 'x' }), 'data: x\n\n');
  });
  test('null and undefined fields are absent', () => {
    assert.equal(serialize({ event: undefined, id: undefined, comment: undefined, retry: undefined }), '\n');
    assert.equal(serialize({ event: null as never, id: null as never }), '\n');
    assert.equal(serialize({}), '\n');
  });
  test('bare string message is { data }', () => {
    assert.equal(serialize('hi'), 'data: hi\n\n');
    assert.equal(serialize('a\r\nb'), 'data: a\ndata: b\n\n');
  });
  test('data split on CRLF, CR and LF, each one line end', () => {
    assert.equal(serialize({ data: 'a\r\nb\rc\nd' }), 'data: a\ndata: b\ndata: c\ndata: d\n\n');
    assert.equal(serialize({ data: '\r\n' }), 'data: \ndata: \n\n');
    assert.equal(serialize({ data: '\n\r' }), 'data: \ndata: \ndata: \n\n');
    assert.equal(serialize({ data: 'x\n' }), 'data: x\ndata: \n\n');
  });
  test('leading space of a value survives (exactly one space after the colon)', () => {
    assert.equal(serialize({ data: ' x' }), 'data:  x\n\n');
  });
  test('unicode passes through', () => {
    assert.equal(serialize({ data: 'héllo 🌍 世界', event: 'ünï' }), 'event: ünï\ndata: héllo 🌍 世界\n\n');
  });
  test('strings in JSON keep their escaped line breaks on one line', () => {
    assert.equal(serialize({ data: { s: 'a\nb\r' } }), 'data: {"s":"a\\nb\\r"}\n\n');
  });
  test('multi-line comment becomes several comment lines', () => {
    assert.equal(serialize({ comment: 'a\nb\r\nc' }), ': a\n: b\n: c\n\n');
    assert.equal(serialize({ comment: '' }), ': \n\n');
  });
  test('injection attempts through data and comment stay inside their field', () => {
    assert.equal(
      serialize({ data: 'x\n\nevent: forged\ndata: y' }),
      'data: x\ndata: \ndata: event: forged\ndata: data: y\n\n',
    );
    assert.equal(serialize({ comment: 'x\n\ndata: forged' }), ': x\n: \n: data: forged\n\n');
  });
  test('a message object reused and changed between writes gives the new bytes each time', () => {
    const m: { id: number; event: string; data: unknown } = { id: 1, event: 'a', data: 'x' };
    assert.equal(serialize(m), 'event: a\nid: 1\ndata: x\n\n');
    assert.equal(serialize(m), 'event: a\nid: 1\ndata: x\n\n');
    m.id = 2;
    assert.equal(serialize(m), 'event: a\nid: 2\ndata: x\n\n');
    m.data = { n: 1 };
    assert.equal(serialize(m), 'event: a\nid: 2\ndata: {"n":1}\n\n');
    (m.data as { n: number }).n = 2;
    assert.equal(serialize(m), 'event: a\nid: 2\ndata: {"n":2}\n\n');
    m.data = 'x';
    assert.equal(serialize({ ...m, event: 'b' }), 'event: b\nid: 2\ndata: x\n\n');
    assert.equal(serialize({ data: 'x' }), 'data: x\n\n');
    assert.throws(() => serialize({ ...m, id: 'a\nb' }), { code: ErrorCode.INVALID_ID });
  });
  test('dataLines on its own', () => {
    assert.equal(dataLines('a'), 'data: a\n');
    assert.equal(dataLines('a\rb'), 'data: a\ndata: b\n');
  });
});

function expectError(fn: () => unknown, Type: typeof SSETypeError | typeof SSERangeError, code: string, text: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Type, `expected ${Type.name}, got ${String(err)}`);
    assert.equal((err as SSETypeError).code, code);
    assert.match((err as Error).message, text);
    return true;
  });
}

describe('serialize: validation', () => {
  test('event with CR or LF', () => {
    expectError(() => serialize({ event: 'a\nb', data: 'x' }), SSETypeError, ErrorCode.INVALID_EVENT, /event must not contain CR or LF/);
    expectError(() => serialize({ event: 'a\rb', data: 'x' }), SSETypeError, ErrorCode.INVALID_EVENT, /CR or LF/);
  });
  test('event of a wrong type', () => {
    expectError(() => serialize({ event: 5 as never }), SSETypeError, ErrorCode.INVALID_EVENT, /event must be a string; got 5/);
  });
  test('id with CR, LF or NUL', () => {
    for (const id of ['a\nb', 'a\rb', 'a\0b']) {
      expectError(() => serialize({ id, data: 'x' }), SSETypeError, ErrorCode.INVALID_ID, /id must not contain CR, LF or U\+0000/);
    }
  });
  test('id that is not finite or of a wrong type', () => {
    expectError(() => serialize({ id: NaN }), SSERangeError, ErrorCode.INVALID_ID, /finite number/);
    expectError(() => serialize({ id: Infinity }), SSERangeError, ErrorCode.INVALID_ID, /finite number/);
    expectError(() => serialize({ id: {} as never }), SSETypeError, ErrorCode.INVALID_ID, /id must be a string or a finite number; got an object/);
  });
  test('retry out of range or of a wrong form', () => {
    expectError(() => serialize({ retry: -1 }), SSERangeError, ErrorCode.INVALID_RETRY, /integer number of milliseconds from 0 to 2147483647/);
    expectError(() => serialize({ retry: 1.5 }), SSERangeError, ErrorCode.INVALID_RETRY, /integer number of milliseconds from 0 to 2147483647/);
    expectError(() => serialize({ retry: '10\n' }), SSETypeError, ErrorCode.INVALID_RETRY, /string of such digits/);
    expectError(() => serialize({ retry: '1e3' }), SSETypeError, ErrorCode.INVALID_RETRY, /string of such digits/);
    expectError(() => serialize({ retry: true as never }), SSETypeError, ErrorCode.INVALID_RETRY, /got true/);
  });
  test('comment of a wrong type', () => {
    expectError(() => serialize({ comment: 1 as never }), SSETypeError, ErrorCode.INVALID_COMMENT, /comment must be a string/);
  });
  test('data JSON cannot serialize', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expectError(() => serialize({ data: circular }), SSETypeError, ErrorCode.INVALID_DATA, /JSON-serializable.*circular/i);
    expectError(() => serialize({ data: 10n }), SSETypeError, ErrorCode.INVALID_DATA, /BigInt/);
    expectError(() => serialize({ data: () => 1 }), SSETypeError, ErrorCode.INVALID_DATA, /gave nothing for a function/);
    expectError(() => serialize({ data: Symbol('s') }), SSETypeError, ErrorCode.INVALID_DATA, /gave nothing/);
  });
  test('message that is not an object or string', () => {
    for (const bad of [null, undefined, 5, true, ['data']]) {
      expectError(() => serialize(bad as never), SSETypeError, ErrorCode.INVALID_MESSAGE, /message must be a plain object/);
    }
  });
});

describe('issue 11: what is a message, read once, and numbers in range', () => {
  test('only plain objects, strings and prepared events are messages: a Buffer, Date, Map, Promise or class instance is refused', () => {
    class Message {
      data = 'x';
    }
    for (const bad of [Buffer.from('hi'), new Date(0), new Map([['data', 'x']]), Promise.resolve({ data: 'x' }), new Message(), new Set(), /x/]) {
      expectError(() => serialize(bad as never), SSETypeError, ErrorCode.INVALID_MESSAGE, /plain object/);
      expectError(() => prepare(bad as never), SSETypeError, ErrorCode.INVALID_MESSAGE, /plain object/);
    }
    const bare = Object.assign(Object.create(null) as object, { data: 'null prototype' });
    assert.equal(serialize(bare as never), 'data: null prototype\n\n');
  });

  test("a message's fields are each read once: a getter cannot pass the check with one value and be sent with another", () => {
    let reads = 0;
    const message = {
      get event() {
        return reads++ === 0 ? 'ok' : 'a\ndata: forged';
      },
      data: 'x',
    };
    assert.equal(serialize(message), 'event: ok\ndata: x\n\n');
    assert.equal(reads, 1);
  });

  test('retry: digit strings that a timer cannot hold (400 digits would read as Infinity) are refused', () => {
    expectError(() => serialize({ retry: '9'.repeat(400) }), SSERangeError, ErrorCode.INVALID_RETRY, /from 0 to 2147483647/);
    expectError(() => serialize({ retry: '2147483648' }), SSERangeError, ErrorCode.INVALID_RETRY, /from 0 to 2147483647/);
    expectError(() => serialize({ retry: 2 ** 31 }), SSERangeError, ErrorCode.INVALID_RETRY, /from 0 to 2147483647/);
    assert.equal(serialize({ retry: '2147483647' }), 'retry: 2147483647\n\n');
    assert.equal(serialize({ retry: '0001000' }), 'retry: 0001000\n\n');
  });

  test('prepare(): validated and serialized once, immutable, and accepted as is by serialize() and prepare()', () => {
    const event = prepare({ event: 'tick', id: 7, data: { n: 1 } });
    assert.equal(event.frame, 'event: tick\nid: 7\ndata: {"n":1}\n\n');
    assert.deepEqual([event.id, event.type], ['7', 'tick']);
    assert.equal(Object.isFrozen(event), true);
    assert.throws(() => {
      (event as { frame: string }).frame = 'data: forged\n\n';
    }, TypeError);
    assert.equal(prepare(event), event);
    assert.equal(serialize(event), event.frame);
    assert.equal(prepare('a\nb').frame, 'data: a\ndata: b\n\n');
    // Looks like a prepared event but was not made by prepare(): validated as a message (no data: a blank line).
    assert.equal(serialize({ frame: 'data: forged\n\n' } as never), '\n');
  });

  test('long multi-line text is split exactly (the block path for text over 4 KiB)', () => {
    const text = 'a\r\nb\rc\n'.repeat(2000) + 'end';
    const expected = 'data: ' + text.split(/\r\n|\r|\n/).join('\ndata: ') + '\n\n';
    assert.equal(serialize({ data: text }), expected);
    assert.equal(serialize({ comment: text }), ': ' + text.split(/\r\n|\r|\n/).join('\n: ') + '\n\n');
    assert.equal(serialize({ data: '\n'.repeat(5000) }), 'data: \n'.repeat(5001) + '\n');
  });
});
