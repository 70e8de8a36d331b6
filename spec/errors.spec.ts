import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, SSEError, SSERangeError, SSETypeError, describe, isSSEError } from '../lib/errors.ts';

test('every code is ERR_SSE_ and unique', () => {
  const codes = Object.values(ErrorCode);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.match(code, /^ERR_SSE_[A-Z_]+$/);
});

test('the three classes keep Node\'s instanceof contracts and carry a code', () => {
  const t = new SSETypeError(ErrorCode.INVALID_ID, 'bad id');
  const r = new SSERangeError(ErrorCode.INVALID_RETRY, 'bad retry');
  const e = new SSEError(ErrorCode.CLIENT_CLOSED, 'gone', { cause: new Error('ECONNRESET') });
  assert.ok(t instanceof TypeError);
  assert.ok(r instanceof RangeError);
  assert.ok(e instanceof Error);
  assert.deepEqual([t.name, t.code, t.message], ['SSETypeError', 'ERR_SSE_INVALID_ID', 'bad id']);
  assert.deepEqual([r.name, r.code], ['SSERangeError', 'ERR_SSE_INVALID_RETRY']);
  assert.deepEqual([e.name, e.code, (e.cause as Error).message], ['SSEError', 'ERR_SSE_CLIENT_CLOSED', 'ECONNRESET']);
  assert.deepEqual([t, r, e, new TypeError('x'), 'ERR_SSE_INVALID_ID', null].map(isSSEError), [true, true, true, false, false, false]);
});

test('describe() renders rejected values briefly and safely', () => {
  assert.equal(describe(null), 'null');
  assert.equal(describe(undefined), 'undefined');
  assert.equal(describe('a\nb'), '"a\\nb"');
  assert.equal(describe('x'.repeat(50)), JSON.stringify('x'.repeat(40) + '…'));
  assert.equal(describe(10n), '10n');
  assert.equal(describe(() => 1), 'a function');
  assert.equal(describe([1]), 'an array');
  assert.equal(describe({ secret: 1 }), 'an object');
  assert.equal(describe(NaN), 'NaN');
});
