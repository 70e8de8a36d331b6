/**
 * The default channel history: a ring buffer of the last `limit` events, in
 * memory. Neutral: no `node:` import.
 */
import { readOptions, HISTORY_RULES } from './options.js';
import type { HistoryResult, HistoryStore, MemoryHistoryOptions, StoredEvent } from './types.js';

// The ring starts this small and doubles as it fills, up to `limit`: `history: 1e7`
// allocated 77 MB up front, and `1e9` aborted the process.
const FIRST_CAPACITY = 16;

/**
 * O(1) append; a lookup scans back from the newest event, which is where
 * reconnecting clients are. Assigned ids are decimal integers that grow by one
 * per event, starting from the clock (ms x 1000): an id held by a client of an
 * earlier run of the process is never taken for an event of this one (it is
 * reported as a gap instead).
 */
export class MemoryHistory implements HistoryStore {
  readonly limit: number;
  readonly maxAge: number;
  private events: (StoredEvent | undefined)[];
  private times: number[];
  private first = 0; // slot of the oldest event
  private count = 0;
  private next = Date.now() * 1000;

  constructor(options: MemoryHistoryOptions) {
    const o = readOptions('MemoryHistory', options, HISTORY_RULES);
    this.limit = o.limit;
    this.maxAge = o.maxAge;
    this.events = new Array<StoredEvent | undefined>(Math.min(this.limit, FIRST_CAPACITY)).fill(undefined);
    this.times = this.maxAge > 0 ? new Array<number>(this.events.length).fill(0) : [];
  }

  /** How many events are kept right now. */
  get size(): number {
    if (this.maxAge > 0) this.expire(Date.now());
    return this.count;
  }

  nextId(): string {
    return String(this.next++);
  }

  append(event: StoredEvent): void {
    if (this.count === this.events.length && this.count < this.limit) this.grow();
    const capacity = this.events.length;
    let slot = this.first + this.count;
    if (slot >= capacity) slot -= capacity;
    if (this.count === capacity) {
      this.first = slot + 1 === capacity ? 0 : slot + 1;
    } else {
      this.count++;
    }
    this.events[slot] = event;
    if (this.maxAge > 0) {
      const now = Date.now();
      this.times[slot] = now;
      this.expire(now);
    }
  }

  since(lastEventId: string): HistoryResult {
    if (this.maxAge > 0) this.expire(Date.now());
    const count = this.count;
    let after = 0; // index (from the oldest) of the first event to replay
    let found = false;
    for (let i = count - 1; i >= 0; i--) {
      if (this.at(i).id === lastEventId) {
        after = i + 1;
        found = true;
        break;
      }
    }
    const events = new Array<StoredEvent>(count - after);
    for (let i = after; i < count; i++) events[i - after] = this.at(i);
    return { events, found };
  }

  /** Forget every event (ids keep growing). */
  clear(): void {
    this.events.fill(undefined);
    this.first = 0;
    this.count = 0;
  }

  private at(index: number): StoredEvent {
    let slot = this.first + index;
    if (slot >= this.events.length) slot -= this.events.length;
    return this.events[slot] as StoredEvent;
  }

  /** Double the ring (up to `limit`), oldest event first. */
  private grow(): void {
    const capacity = Math.min(this.limit, this.events.length * 2);
    const events = new Array<StoredEvent | undefined>(capacity).fill(undefined);
    const times = this.maxAge > 0 ? new Array<number>(capacity).fill(0) : this.times;
    for (let i = 0; i < this.count; i++) {
      let slot = this.first + i;
      if (slot >= this.events.length) slot -= this.events.length;
      events[i] = this.events[slot];
      if (this.maxAge > 0) times[i] = this.times[slot];
    }
    this.events = events;
    this.times = times;
    this.first = 0;
  }

  private expire(now: number): void {
    const oldest = now - this.maxAge;
    const capacity = this.events.length;
    while (this.count > 0 && this.times[this.first] < oldest) {
      this.events[this.first] = undefined;
      this.first = this.first + 1 === capacity ? 0 : this.first + 1;
      this.count--;
    }
  }
}
