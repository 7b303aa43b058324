// A tiny event emitter: the provider keeps the y-websocket shape (on/off/once/emit with argument arrays).
export type Listener = (...args: any[]) => void;

export class Emitter {
  private readonly _listeners = new Map<string, Set<Listener>>();

  on(name: string, listener: Listener): this {
    let set = this._listeners.get(name);
    if (!set) this._listeners.set(name, (set = new Set()));
    set.add(listener);
    return this;
  }

  once(name: string, listener: Listener): this {
    const wrapper: Listener = (...args) => {
      this.off(name, wrapper);
      listener(...args);
    };
    return this.on(name, wrapper);
  }

  off(name: string, listener: Listener): this {
    this._listeners.get(name)?.delete(listener);
    return this;
  }

  emit(name: string, args: unknown[] = []): void {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const listener of Array.from(set)) {
      try {
        listener(...args);
      } catch (err) {
        // A failing subscriber must not break the widget or the other subscribers.
        setTimeout(() => { throw err; });
      }
    }
  }

  removeAllListeners(): void {
    this._listeners.clear();
  }
}
