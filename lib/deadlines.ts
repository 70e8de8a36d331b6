/**
 * Timeouts for commands that all wait the same time: they expire in the order
 * they were set, so one timer serves them all. Neutral: only the timers every
 * runtime has.
 */

export interface Deadline {
  readonly at: number;
  /** Called when the deadline passes; null once the command settled. */
  expire: (() => void) | null;
}

/**
 * Deadlines of equal length, so they expire in the order they were set: one
 * timer for the oldest pending one, not one per command.
 */
export class Deadlines {
  private queue: Deadline[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ms: number) {}

  add(expire: () => void): Deadline {
    const entry: Deadline = { at: Date.now() + this.ms, expire };
    this.queue.push(entry);
    if (this.timer === undefined) this.arm(this.ms);
    return entry;
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(1, ms));
    (this.timer as { unref?(): void }).unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
    const queue = this.queue;
    while (this.head < queue.length) {
      const entry = queue[this.head];
      if (entry.expire !== null && entry.at > now) break;
      this.head++;
      const expire = entry.expire;
      entry.expire = null;
      expire?.();
    }
    if (this.head === queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
    this.arm(this.queue[this.head].at - now);
  }
}
