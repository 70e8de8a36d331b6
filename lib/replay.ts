/**
 * A subscriber's replay: ask the history (or broker) for what came after the
 * client's `Last-Event-ID`, guarded so that whatever the store does (throws,
 * rejects, hangs, answers nonsense) nothing escapes as a crash or an unhandled
 * rejection; then the replay, then the live events queued behind it that it did
 * not cover, so nothing is lost, repeated or reordered. Neutral: no `node:` import.
 */
import type { Emitter } from './emitter.js';
import { caused, stateError } from './errors.js';
import { fromFrame, isPrepared } from './format.js';
import type { Subscriber, Subscribers } from './fanout.js';
import type { BrokerTopic, HistoryResult, PreparedEvent, StoredEvent } from './types.js';

export class Replay {
  constructor(
    private readonly subscribers: Subscribers,
    /** Where 'gap' is emitted (the channel). */
    private readonly events: Emitter,
    private readonly topic: BrokerTopic,
    /** ms a replay waits for the topic; 0 = forever. */
    private readonly timeout: number,
    /** Events come from a broker shared by several instances (see deliver()). */
    private readonly shared: boolean,
  ) {}

  /** Replay to `sub` what came after `lastId`, then the live events queued meanwhile. */
  start(sub: Subscriber, lastId: string): void {
    let answer: HistoryResult | PromiseLike<HistoryResult>;
    try {
      answer = this.topic.since(lastId);
    } catch (err) {
      this.deliver(sub, lastId, undefined, err);
      return;
    }
    if (!isThenable(answer)) {
      this.deliver(sub, lastId, answer, undefined);
      return;
    }
    let settled = false;
    const settle = (result: unknown, cause: unknown): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      this.deliver(sub, lastId, result, cause);
    };
    const timer =
      this.timeout > 0
        ? setTimeout(() => settle(undefined, new Error(`since() did not answer within replayTimeout (${this.timeout} ms)`)), this.timeout)
        : undefined;
    (timer as { unref?(): void } | undefined)?.unref?.();
    Promise.resolve(answer).then(
      (result) => settle(result, undefined),
      (err: unknown) => settle(undefined, err ?? new Error('since() rejected')),
    );
  }

  /**
   * Send the replay, then the live events queued behind it that it did not
   * cover. A store that failed (`cause`) or answered nonsense counts as a gap
   * with nothing kept: `'gap'` with the cause, then live events.
   */
  private deliver(sub: Subscriber, lastId: string, answer: unknown, cause: unknown): void {
    const subscribers = this.subscribers;
    if (!subscribers.current(sub)) return; // left (or channel ended) meanwhile
    const stream = sub.stream;
    let events: readonly PreparedEvent[] = [];
    let found = false;
    if (cause === undefined) {
      const checked = checkAnswer(answer);
      if (checked === undefined) cause = new Error(`since() answered ${describeAnswer(answer)}, not { events: StoredEvent[], found: boolean }`);
      else ({ events, found } = checked);
    }
    if (cause !== undefined && this.shared) {
      // Live events queued meanwhile may start before the client's id (it came
      // from an instance further ahead): sending them could repeat events. End
      // the stream instead; its client reconnects and replays again.
      const why = cause instanceof Error ? cause.message : String(cause);
      if (subscribers.remove(stream, caused(stateError('ERR_SSE_REPLAY_FAILED', lastId, why), cause))) stream.end();
      return;
    }
    if (!found) {
      const why = cause === undefined ? 'is not in the history (unknown, or already dropped)' : 'could not be looked up';
      const gap = stateError('ERR_SSE_HISTORY_GAP', lastId, why, events.length);
      try {
        // Written by a listener (e.g. a 'reset' event) goes out before the replay.
        this.events.emit('gap', stream, cause === undefined ? gap : caused(gap, cause));
      } catch (err) {
        subscribers.fail(sub, err, "a 'gap' listener");
        return;
      }
      if (!subscribers.current(sub)) return;
    }
    for (let i = 0; i < events.length; i++) if (!subscribers.send(sub, events[i])) return;
    const queue = sub.queue as PreparedEvent[];
    sub.queue = null;
    sub.queuedBytes = 0;
    // Live events arrive in history order, so the ones the replay covered are a
    // prefix of the queue ending at the replay's last id. A broker's replay that
    // found the id but had nothing after it covered up to that id: this instance
    // may have delivered it (and the events before it) only after the client joined.
    let start = 0;
    const last = events.length > 0 ? events[events.length - 1].id : found && this.shared ? lastId : undefined;
    if (last !== undefined && queue.length > 0) {
      for (let i = queue.length - 1; i >= 0; i--) {
        if (queue[i].id === last) {
          start = i + 1;
          break;
        }
      }
    }
    for (let i = start; i < queue.length; i++) if (!subscribers.send(sub, queue[i])) return;
  }
}

export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A store's answer, with every event made a prepared event (a store may give back plain copies); undefined if it is not one. */
function checkAnswer(answer: unknown): { events: PreparedEvent[]; found: boolean } | undefined {
  const a = answer as { events?: unknown; found?: unknown } | null | undefined;
  if (a === null || typeof a !== 'object' || !Array.isArray(a.events) || typeof a.found !== 'boolean') return undefined;
  const events: PreparedEvent[] = [];
  for (const e of a.events as unknown[]) {
    if (isPrepared(e)) {
      events.push(e);
      continue;
    }
    const c = e as Partial<StoredEvent> | null;
    if (c === null || typeof c !== 'object' || typeof c.id !== 'string' || typeof c.frame !== 'string') return undefined;
    const rebuilt = fromFrame(c.frame, c.id, typeof c.type === 'string' ? c.type : 'message', c.message ?? '');
    if (rebuilt === undefined) return undefined;
    events.push(rebuilt);
  }
  return { events, found: a.found };
}

function describeAnswer(answer: unknown): string {
  if (answer === undefined || answer === null) return String(answer);
  return Array.isArray(answer) ? 'an array' : typeof answer === 'object' ? 'an object of another shape' : typeof answer;
}
