/**
 * Node's compressors, for the Node entry (`SSEStream`'s `compress` option). The
 * compressing sink itself imports no `node:` module (see sink-compress.ts).
 */
import zlib from 'node:zlib';
import { encodingsOf, type ZlibLike } from './sink-compress.js';
import type { Encoding } from './encoding.js';

export const nodeZlib = zlib as unknown as ZlibLike;

/** The encodings this Node can produce, in the default order of preference. */
export const AVAILABLE: readonly Encoding[] = encodingsOf(nodeZlib);
