/**
 * Chunks -> complete lines: the first half of the WHATWG "event stream
 * interpretation". UTF-8 decoding, the one leading BOM, line ends split across
 * chunks, and lines cut across chunks (held until their end arrives, within
 * `maxLineLength`). The complete lines go to `interpreter.ts`. Options come
 * checked from `parser.ts`. No `node:` import: it runs on any runtime.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { ErrorCode, type SSEError } from './errors.js';
import { Interpreter } from './interpreter.js';
import type { EventStreamParser, ServerSentEvent } from './parser.js';

const LF = 10;
const CR = 13;
const BOM = 0xfeff;
// Hoisted: one options object for every decode() call instead of one per chunk.
const STREAM = { stream: true };

/** The bounds of a reader and what it does past them: `ParseOptions`, checked, defaults applied. */
export interface ReaderLimits {
  /** Undefined: `feed()` throws the chunk's first limit error once it has parsed the chunk. */
  onError: ((error: SSEError) => void) | undefined;
  /** 0: no limit. */
  maxLineLength: number;
  /** 0: no limit. */
  maxEventSize: number;
}

/** What a reader runs with: `createParser`'s options, checked, defaults applied. */
export interface ReaderConfig extends ReaderLimits {
  onEvent(event: ServerSentEvent): void;
  onRetry: ((ms: number) => void) | undefined;
  onComment: ((text: string) => void) | undefined;
}

/** A reader over `config`: the engine behind `createParser`. */
export function createReader(config: ReaderConfig): EventStreamParser {
  return new Reader(config);
}

// A class, not closures: its methods are the same functions for every parser, so
// V8 keeps them inlined when a process parses many streams (with per-parser
// closures the hot loop deoptimized on "wrong call target", ~10% slower).
class Reader implements EventStreamParser {
  readonly #lines: Interpreter;
  // Infinity for "no limit" keeps the check one comparison, no branch.
  readonly #maxLen: number;
  // `ignoreBOM: true` keeps a BOM in the text so that one rule (in #text) drops
  // it for bytes and strings alike, and only at the very start of the stream.
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  #decoderUsed = false;
  // The incomplete last line, as fragments joined once when its line end arrives:
  // `pending += chunk` per feed is quadratic when one long `data:` line comes in
  // many small chunks. `#head` is the first fragment, `#more` (when there are
  // more) all of them. Joined with Array#join, never `+`: a ConsString read char
  // by char afterwards cost ~15% with 64-byte chunks (measured, like the rest).
  #head = '';
  readonly #pair: [string, string] = ['', ''];
  #more: string[] = [];
  #pendingLength = 0;
  #atStreamStart = true;
  // The last chunk ended with CR, already taken as a line end (so its event is
  // dispatched now, not when more bytes arrive); an LF opening the next chunk is
  // the second half of that CRLF and must not be read as an empty line.
  #skipLF = false;
  // The rest of a line longer than maxLineLength is being dropped as it arrives.
  #skipLine = false;

  constructor(config: ReaderConfig) {
    this.#lines = new Interpreter(config);
    this.#maxLen = config.maxLineLength === 0 ? Infinity : config.maxLineLength;
  }

  get lastEventId(): string {
    return this.#lines.lastEventId;
  }

  feed(chunk: string | Uint8Array): void {
    if (typeof chunk === 'string') {
      // Bytes left in the decoder from a byte chunk cannot continue a string: flush them.
      if (this.#decoderUsed) {
        this.#decoderUsed = false;
        const rest = this.#decoder.decode();
        if (rest.length !== 0) this.#text(rest);
      }
      this.#text(chunk);
    } else {
      this.#decoderUsed = true;
      // `stream: true` keeps a multi-byte character split across chunks for the next call.
      this.#text(this.#decoder.decode(chunk, STREAM));
    }
    // Without onError, a limit error is thrown only now, once the events after
    // the skipped one in this chunk are dispatched and the state is ready for the next.
    const error = this.#lines.takeError();
    if (error !== undefined) throw error;
  }

  end(): void {
    this.#clearStream();
    this.#lines.endStream(false);
  }

  reset(): void {
    this.#clearStream();
    this.#lines.endStream(true);
  }

  #clearStream(): void {
    // A flush (which also resets the decoder) can only yield U+FFFD for a truncated
    // character, never a line end, so it cannot complete an event: discarded.
    if (this.#decoderUsed) this.#decoder.decode();
    this.#decoderUsed = false;
    this.#head = '';
    this.#more = [];
    this.#pendingLength = 0;
    this.#atStreamStart = true;
    this.#skipLF = false;
    this.#skipLine = false;
    // An error left by a chunk a callback threw out of belongs to no later chunk.
    this.#lines.takeError();
  }

  #text(s: string): void {
    let pos = 0;
    if (this.#atStreamStart) {
      if (s.length === 0) return;
      this.#atStreamStart = false;
      // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are
      // present": one only, so a second BOM is part of the first field name.
      if (s.charCodeAt(0) === BOM) pos = 1;
    }
    if (this.#skipLF) {
      if (pos === s.length) return;
      this.#skipLF = false;
      if (s.charCodeAt(pos) === LF) pos++;
    }
    const held = this.#pendingLength;
    if (held === 0) {
      if (this.#skipLine && (pos = this.#skipRest(s, pos)) === -1) return;
      this.#run(s, pos, s.indexOf('\r', pos), s.indexOf('\n', pos));
      return;
    }
    // A line is pending (so pos is 0: no BOM, no skipped LF). Still no line end:
    // add a fragment, do not concatenate (see #head).
    const lf = s.indexOf('\n');
    const cr = s.indexOf('\r');
    const more = this.#more;
    if (lf === -1 && cr === -1) {
      if (held + s.length > this.#maxLen) return this.#tooLong();
      this.#pendingLength = held + s.length;
      if (more.length === 0) more.push(this.#head);
      more.push(s);
      return;
    }
    // Only the one fragment: a reused pair, no array per chunk; many: a fresh array
    // (setting `length = 0` is a runtime call, ~5%).
    let joined: string;
    if (more.length === 0) {
      const pair = this.#pair;
      pair[0] = this.#head;
      pair[1] = s;
      joined = pair.join('');
      pair[0] = pair[1] = '';
    } else {
      more.push(s);
      joined = more.join('');
      this.#more = [];
    }
    this.#head = '';
    this.#pendingLength = 0;
    // Fragments never hold CR or LF, so the chunk's first ones, shifted, are the
    // joined text's: it is not scanned again (~10% with 64-byte chunks).
    this.#run(joined, 0, cr === -1 ? -1 : cr + held, lf === -1 ? -1 : lf + held);
  }

  // The complete lines of `s` from `pos` to the interpreter (given the first CR
  // and LF at or after `pos`, -1: none); the incomplete rest is held.
  #run(s: string, pos: number, cr: number, lf: number): void {
    const n = s.length;
    pos = this.#lines.lines(s, pos, cr, lf);
    if (pos < n) {
      if (n - pos > this.#maxLen) return this.#tooLong();
      this.#head = pos === 0 ? s : s.slice(pos);
      this.#pendingLength = n - pos;
    } else if (n !== 0 && s.charCodeAt(n - 1) === CR) this.#skipLF = true;
  }

  // An incomplete line already longer than maxLineLength: its event is skipped,
  // and the rest of it is dropped as it arrives (#skipRest), never held.
  #tooLong(): void {
    this.#head = '';
    this.#more = [];
    this.#pendingLength = 0;
    this.#skipLine = true;
    this.#lines.skip(ErrorCode.LINE_TOO_LONG);
  }

  // Drops the rest of a too-long line from `s`: where the next line starts, or -1.
  #skipRest(s: string, pos: number): number {
    const cr = s.indexOf('\r', pos);
    const lf = s.indexOf('\n', pos);
    if (cr === -1 && lf === -1) return -1;
    this.#skipLine = false;
    if (cr === -1 || (lf !== -1 && lf < cr)) return lf + 1;
    if (cr + 1 === s.length) {
      this.#skipLF = true;
      return -1;
    }
    return s.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
  }
}
