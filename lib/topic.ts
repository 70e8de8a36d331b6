/**
 * The in-process side of the broker seam: ids, order and replay from a
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
