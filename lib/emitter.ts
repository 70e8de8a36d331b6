/**
 * A small event emitter with the part of Node's EventEmitter API that users and
 * `Readable#pipe()`/`pipeline()` call (on, once, off, emit, prepend, count), for
 * the classes that must also run where `node:events` does not exist (Workers).
 * Like Node's, an `'error'` with no listener throws.
 */
type Listener = (...args: any[]) => void;

export class Emitter {
  // Created on first listener: most objects of a busy server never get one.
  private listenerMap: Map<string | symbol, Listener[]> | undefined;

  on(event: string | symbol, listener: Listener): this {
    const map = (this.listenerMap ??= new Map());
    const list = map.get(event);
    map.set(event, list === undefined ? [listener] : [...list, listener]);
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  prependListener(event: string | symbol, listener: Listener): this {
    const map = (this.listenerMap ??= new Map());
    map.set(event, [listener, ...(map.get(event) ?? [])]);
    return this;
  }

  once(event: string | symbol, listener: Listener): this {
    return this.on(event, this.onceWrapper(event, listener));
  }

  off(event: string | symbol, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  removeListener(event: string | symbol, listener: Listener): this {
    const list = this.listenerMap?.get(event);
    if (list === undefined) return this;
    const i = list.findIndex((l) => l === listener || (l as { listener?: Listener }).listener === listener);
    if (i === -1) return this;
    if (list.length === 1) this.listenerMap!.delete(event);
    else this.listenerMap!.set(event, list.filter((_, j) => j !== i));
    return this;
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.listenerMap = undefined;
    else this.listenerMap?.delete(event);
    return this;
  }

  listenerCount(event: string | symbol): number {
    return this.listenerMap?.get(event)?.length ?? 0;
  }

  prependOnceListener(event: string | symbol, listener: Listener): this {
    return this.prependListener(event, this.onceWrapper(event, listener));
  }

  eventNames(): (string | symbol)[] {
    return this.listenerMap === undefined ? [] : [...this.listenerMap.keys()];
  }

  rawListeners(event: string | symbol): Listener[] {
    return [...(this.listenerMap?.get(event) ?? [])];
  }

  /** Accepted for EventEmitter compatibility; there is no listener-count warning to tune. */
  setMaxListeners(_n: number): this {
    return this;
  }

  getMaxListeners(): number {
    return Infinity;
  }

  listeners(event: string | symbol): Listener[] {
    return (this.listenerMap?.get(event) ?? []).map((l) => (l as { listener?: Listener }).listener ?? l);
  }

  /** `listener`, removed before its first call; `removeListener(event, listener)` finds it. */
  private onceWrapper(event: string | symbol, listener: Listener): Listener {
    const wrapper = (...args: unknown[]): void => {
      this.removeListener(event, wrapper);
      listener.apply(this, args);
    };
    (wrapper as { listener?: Listener }).listener = listener;
    return wrapper;
  }

  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.listenerMap?.get(event);
    if (list === undefined) {
      if (event === 'error') throw args[0];
      return false;
    }
    // Lists are replaced, never mutated: a listener that adds or removes one
    // during the emit does not change who this emit calls.
    for (const listener of list) listener.apply(this, args);
    return true;
  }
}
