/**
 * Heartbeats for every stream of the process from one timer per interval, not
 * one timer per stream: a timer per stream cost ~200 bytes and a callback per
 * connection, which at 50,000 idle connections is memory and CPU for nothing.
 * Neutral: only the timers every runtime has.
 */

/** What the scheduler drives: called once per sweep (an eighth of the interval). */
export interface Beating {
  beat(): void;
}

/**
 * How many sweeps an interval is cut into. A stream sends a heartbeat after 7
 * silent sweeps, so silence never exceeds the interval, and an idle stream beats
 * every 7/8 to 8/8 of it (with 4 sweeps, every 3/4 to 4/4: 14% more heartbeats
 * for the same bound, each a socket write; bench/memory, 19k idle connections).
 */
export const SWEEPS_PER_INTERVAL = 8;

class Group {
  readonly members = new Set<Beating>();
  readonly timer: ReturnType<typeof setInterval>;

  constructor(period: number) {
    this.timer = setInterval(() => {
      for (const member of this.members) member.beat();
    }, period);
    // Never keep the process alive for a heartbeat (Node, Bun, Deno have unref).
    (this.timer as { unref?(): void }).unref?.();
  }
}

/** One sweeping timer per distinct heartbeat interval in use; stopped when its last stream leaves. */
export class HeartbeatScheduler {
  private readonly groups = new Map<number, Group>();

  add(member: Beating, intervalMs: number): void {
    let group = this.groups.get(intervalMs);
    if (group === undefined) {
      group = new Group(Math.max(1, Math.floor(intervalMs / SWEEPS_PER_INTERVAL)));
      this.groups.set(intervalMs, group);
    }
    group.members.add(member);
  }

  delete(member: Beating, intervalMs: number): void {
    const group = this.groups.get(intervalMs);
    if (group === undefined || !group.members.delete(member) || group.members.size > 0) return;
    clearInterval(group.timer);
    this.groups.delete(intervalMs);
  }
}

/** The process's scheduler, shared by every stream. */
export const heartbeats = new HeartbeatScheduler();
