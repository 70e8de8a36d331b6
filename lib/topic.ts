/**
 * The in-process side of the broker seam, and the count of a channel's
 * unconfirmed publishes to a broker. The in-process side: ids, order and replay from a
 * `HistoryStore` in this process (`MemoryHistory`, or the user's own, whose
 * synchronous `nextId()`/`append()` keep working unchanged). Synchronous:
 * `publish()` stores the event and delivers it before it returns, so a channel
 * with history broadcasts in the same tick as before the seam existed.
 * Neutral: no `node:` import.
 */
import { withId } from './format.js';
import type { BrokerFeed, BrokerTopic, HistoryResult, HistoryStore, PreparedEvent, StoredEvent } from './types.js';

export class LocalTopic implements BrokerTopic {
  constructor(
    private readonly store: HistoryStore,
    private readonly feed: BrokerFeed,
  ) {}

  publish(event: PreparedEvent): string {
    const stored = (event.id === undefined ? withId(event, this.store.nextId()) : event) as StoredEvent;
    this.store.append(stored);
    this.feed.deliver(stored);
    return stored.id;
  }

  since(lastEventId: string): HistoryResult | PromiseLike<HistoryResult> {
    return this.store.since(lastEventId);
  }

  watch(): void {}

  close(): void {}
}

/**
 * A channel's publishes to a broker that are not confirmed yet: counted so
 * that `end()` can wait for them and `write()` can say when to slow down.
 */
export class Unconfirmed {
  private count = 0;
  private full = false;
  private waiting: Array<() => void> = [];

  /** `drained` runs when the count falls to zero after `below()` said false. */
  constructor(private readonly drained: () => void) {}

  /** Count `result` until it settles; the returned promise is the caller's to handle. */
  track(result: PromiseLike<string>): Promise<string> {
    this.count++;
    return Promise.resolve(result).then(
      (id) => {
        this.settled();
        return id;
      },
      (err: unknown) => {
        this.settled();
        throw err;
      },
    );
  }

  /** Whether fewer than `limit` are pending; if not, `drained` runs once they all settled. */
  below(limit: number): boolean {
    if (this.count < limit) return true;
    this.full = true;
    return false;
  }

  /** Resolves once none is pending. */
  none(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  private settled(): void {
    if (--this.count > 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
    if (this.full) {
      this.full = false;
      this.drained();
    }
  }
}
