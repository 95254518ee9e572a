/**
 * A small, browser-safe event emitter with the surface of Node's EventEmitter that @tauri-apps/plugin-shell's
 * Command exposes (on, once, off, addListener, removeListener, removeAllListeners, listenerCount,
 * prependListener, prependOnceListener, emit), so code written against Tauri's Command keeps working.
 *
 * Two deliberate differences from node:events:
 * - Emitting 'error' with no listener does not throw: a child's error must not tear down the sidecar connection.
 * - A listener that throws does not stop the other listeners, nor the caller (which is the connection reading
 *   the sidecar's stream); the exception is re-thrown on a fresh task, where it is reported as uncaught.
 */

// Listener arguments are checked by the event map E; inside the emitter they are opaque.
type AnyListener = (arg: any) => void;

interface Registration {
  /** What the caller passed in: the identity that off() and listeners() work with. */
  readonly listener: AnyListener;
  readonly once: boolean;
}

export class EventEmitter<E extends Record<string, any>> {
  // A Map rather than an object so that event names like '__proto__' or 'constructor' are safe.
  #registrations = new Map<keyof E, Registration[]>();

  /** Alias of {@link on}. */
  addListener<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    return this.on(eventName, listener);
  }

  /** Adds `listener` at the end of the listeners of `eventName`. */
  on<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    return this.#add(eventName, { listener, once: false }, false);
  }

  /** Adds a listener that is removed before it is called, so it runs at most once. */
  once<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    return this.#add(eventName, { listener, once: true }, false);
  }

  /** Like {@link on}, but the listener runs before the ones already added. */
  prependListener<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    return this.#add(eventName, { listener, once: false }, true);
  }

  /** Like {@link once}, but the listener runs before the ones already added. */
  prependOnceListener<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    return this.#add(eventName, { listener, once: true }, true);
  }

  /** Alias of {@link off}. */
  removeListener<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    return this.off(eventName, listener);
  }

  /**
   * Removes the most recently added registration of `listener` for `eventName` (also one added with
   * once()). As in Node, a listener added twice must be removed twice.
   */
  off<N extends keyof E>(eventName: N, listener: (arg: E[N]) => void): this {
    const list = this.#registrations.get(eventName);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.listener === listener) {
        // Replace rather than splice: an emit() in progress iterates over the array it started with.
        const next = list.slice(0, i).concat(list.slice(i + 1));
        if (next.length) this.#registrations.set(eventName, next);
        else this.#registrations.delete(eventName);
        break;
      }
    }
    return this;
  }

  /** Removes every listener of `eventName`, or of every event when no name is given. */
  removeAllListeners<N extends keyof E>(eventName?: N): this {
    if (eventName === undefined) this.#registrations.clear();
    else this.#registrations.delete(eventName);
    return this;
  }

  /** How many listeners `eventName` has. */
  listenerCount<N extends keyof E>(eventName: N): number {
    return this.#registrations.get(eventName)?.length ?? 0;
  }

  /** A copy of the listeners of `eventName`, in call order. */
  listeners<N extends keyof E>(eventName: N): Array<(arg: E[N]) => void> {
    return (this.#registrations.get(eventName) ?? []).map((r) => r.listener);
  }

  /** The names of the events that have listeners. */
  eventNames(): Array<keyof E> {
    return [...this.#registrations.keys()];
  }

  /**
   * Calls every listener of `eventName`, in order, with `arg`. Returns whether there was any.
   * Listeners added or removed during the call take effect from the next emit.
   */
  emit<N extends keyof E>(eventName: N, arg: E[N]): boolean {
    const list = this.#registrations.get(eventName);
    if (!list) return false;
    for (const registration of list) {
      if (registration.once) this.#removeRegistration(eventName, registration);
      try {
        registration.listener(arg);
      } catch (error) {
        rethrowLater(error);
      }
    }
    return true;
  }

  /**
   * Called after a listener is added. Subclasses use it to learn that someone is listening (a Command holds
   * back a new child's output until then, so that listeners added after `await spawn()` miss nothing).
   */
  protected listenerAdded(_eventName: keyof E): void {}

  #add(eventName: keyof E, registration: Registration, prepend: boolean): this {
    const list = this.#registrations.get(eventName) ?? [];
    this.#registrations.set(eventName, prepend ? [registration, ...list] : [...list, registration]);
    this.listenerAdded(eventName);
    return this;
  }

  #removeRegistration(eventName: keyof E, registration: Registration): void {
    const list = this.#registrations.get(eventName);
    if (!list) return;
    const next = list.filter((r) => r !== registration);
    if (next.length) this.#registrations.set(eventName, next);
    else this.#registrations.delete(eventName);
  }
}

/** Reports an exception thrown by a listener without unwinding the code that emitted the event. */
function rethrowLater(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof report === 'function') report(error);
  else
    setTimeout(() => {
      throw error;
    }, 0);
}
