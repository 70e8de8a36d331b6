/**
 * Negotiation (lib/encoding.ts) against RFC 9110's Accept-Encoding rules, and
 * the `compress` option's checks (lib/options.ts): exact errors with codes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENCODINGS, negotiate, type Encoding } from '../lib/encoding.ts';
import { SSEStream } from '../lib/index.ts';

describe('negotiate()', () => {
  const cases: Array<[string[], Encoding | undefined, string]> = [
    [[], undefined, 'no Accept-Encoding header: identity'],
    [[''], undefined, 'an empty header: identity only'],
    [['identity'], undefined, 'identity only'],
    [['gzip'], 'gzip', 'one coding'],
    [['gzip, deflate, br, zstd'], 'br', "what Chromium and Firefox send: ties go to br"],
    [['gzip, deflate'], 'gzip', 'ties: gzip before deflate'],
    [['deflate, zstd'], 'deflate', 'ties: deflate before zstd'],
    [['zstd'], 'zstd', 'zstd alone'],
    [['gzip;q=1, br;q=0.9'], 'gzip', 'the highest weight wins'],
    [['br;q=0.5, gzip;q=0.8, deflate;q=0.9'], 'deflate', 'the highest weight wins, whatever the order'],
    [['GZIP;Q=0.5'], 'gzip', 'case-insensitive'],
    [['x-gzip'], 'gzip', 'x-gzip is gzip'],
    [['gzip ; q=0.8 ,  br ;q=0.9'], 'br', 'spaces around ; and ,'],
    [['br;q=0'], undefined, 'q=0: not acceptable'],
    [['br;q=0, gzip;q=0.001'], 'gzip', 'the smallest weight is still acceptable'],
    [['*'], 'br', '* accepts every coding'],
    [['*;q=0'], undefined, '*;q=0 with nothing listed: identity'],
    [['gzip, *;q=0'], 'gzip', '* excludes the others'],
    [['br;q=0.1, *;q=0.5'], 'gzip', '* weighs the codings not listed'],
    [['identity;q=1, gzip;q=0.5'], undefined, 'identity weighed higher: identity'],
    [['identity;q=0.5, gzip;q=0.5'], 'gzip', 'identity equal: compress'],
    [['identity;q=0, gzip'], 'gzip', 'identity excluded'],
    [['deflate', 'gzip;q=0.5'], 'deflate', 'a repeated header is one list'],
    [['gzip;q=0.5', 'gzip;q=0.9, br;q=0.8'], 'gzip', 'listed twice: the higher weight'],
    [['gzip;q=2'], undefined, 'a weight above 1 is unreadable: skipped'],
    [['gzip;q=0.1234'], undefined, 'more than three decimals: skipped'],
    [['gzip;level=9'], undefined, 'a parameter other than q: skipped'],
    [['gzip;q=0.5, br;q=x'], 'gzip', 'one unreadable element does not spoil the others'],
    [['compress, sdch'], undefined, 'codings we do not make'],
  ];
  for (const [values, want, why] of cases) {
    test(`${JSON.stringify(values)} -> ${want ?? 'identity'} (${why})`, () => {
      assert.equal(negotiate(values, ENCODINGS), want);
    });
  }

  test('only the offered encodings, their order breaking ties', () => {
    assert.equal(negotiate(['gzip, deflate, br, zstd'], ['gzip', 'br']), 'gzip');
    assert.equal(negotiate(['gzip, deflate, br, zstd'], ['br', 'gzip', 'deflate']), 'br');
    assert.equal(negotiate(['zstd'], ['br', 'gzip', 'deflate']), undefined, 'zstd where the runtime lacks it: identity');
    assert.equal(negotiate(['gzip'], []), undefined);
  });
});

describe('the compress option', () => {
  const refused = (options: unknown, kind: typeof TypeError | typeof RangeError, message: string): void => {
    assert.throws(
      () => new SSEStream(undefined, options as never),
      (err: Error & { code?: string }) => {
        assert.ok(err instanceof kind, `${err.name}: ${err.message}`);
        assert.equal(err.code, 'ERR_SSE_INVALID_OPTION');
        assert.equal(err.message, message);
        return true;
      },
    );
  };

  test('true, false and an object are accepted', () => {
    for (const compress of [true, false, {}, { encodings: ['gzip' as const], level: 1, windowBits: 15, memLevel: 9, brotliQuality: 11, zstdLevel: 19 }]) {
      new SSEStream(undefined, { compress, heartbeat: 0 }).destroy();
    }
  });

  test('anything else is refused', () => {
    refused(
      { compress: 'gzip' },
      TypeError,
      'SSEStream: compress must be true, false, or an object { encodings?, level?, windowBits?, memLevel?, brotliQuality?, zstdLevel? }; got "gzip"',
    );
    refused({ compress: null }, TypeError, 'SSEStream: compress must be true, false, or an object { encodings?, level?, windowBits?, memLevel?, brotliQuality?, zstdLevel? }; got null');
  });

  test('ranges', () => {
    refused({ compress: { level: 0 } }, RangeError, 'SSEStream: compress.level must be an integer from 1 to 9 (gzip and deflate level); got 0');
    refused({ compress: { windowBits: 16 } }, RangeError, 'SSEStream: compress.windowBits must be an integer from 10 to 15 (log2 of the window in bytes, for every encoding); got 16');
    refused({ compress: { memLevel: 10 } }, RangeError, 'SSEStream: compress.memLevel must be an integer from 1 to 9 (gzip and deflate memLevel); got 10');
    refused({ compress: { brotliQuality: 0 } }, RangeError, 'SSEStream: compress.brotliQuality must be an integer from 1 to 11 (brotli quality); got 0');
    refused({ compress: { zstdLevel: 1.5 } }, RangeError, 'SSEStream: compress.zstdLevel must be an integer from 1 to 19 (zstd level); got 1.5');
    refused({ compress: { level: '6' } }, TypeError, 'SSEStream: compress.level must be an integer from 1 to 9 (gzip and deflate level); got "6"');
  });

  test('encodings: known names, once each, at least one; near misses get a hint', () => {
    const what = "SSEStream: compress.encodings must be a non-empty array of 'br', 'gzip', 'deflate', 'zstd' (the order breaks ties between equal client weights)";
    refused({ compress: { encodings: [] } }, TypeError, `${what}; got an array`);
    refused({ compress: { encodings: 'gzip' } }, TypeError, `${what}; got "gzip"`);
    refused({ compress: { encodings: ['brotli'] } }, TypeError, `${what} (did you mean 'br'?); got "brotli"`);
    refused({ compress: { encodings: ['gzp'] } }, TypeError, `${what} (did you mean 'gzip'?); got "gzp"`);
    refused({ compress: { encodings: ['identity'] } }, TypeError, `${what}; got "identity"`);
    refused({ compress: { encodings: ['gzip', 'gzip'] } }, TypeError, "SSEStream: compress.encodings lists 'gzip' twice");
  });

  test('unknown names, with the near miss', () => {
    refused(
      { compress: { levle: 3 } },
      TypeError,
      'SSEStream: unknown option "compress.levle" (did you mean "compress.level"?); allowed: compress.encodings, compress.level, compress.windowBits, compress.memLevel, compress.brotliQuality, compress.zstdLevel',
    );
    refused(
      { compression: true },
      TypeError,
      'SSEStream: unknown option "compression" (did you mean "compress"?); allowed: heartbeat, maxBufferedBytes, highWaterMark, cors, retry, compress',
    );
  });
});
