/**
 * @tauri-apps/api/mocks expects a browser `window`, and the Tauri transport keeps its sidecars' pids in
 * `sessionStorage`. Imported first by the Tauri test, so that both exist before any Tauri module is evaluated.
 */
(globalThis as { window?: unknown }).window ??= globalThis;

/** A page's sessionStorage: kept across a reload, which the test simulates by keeping this object. */
class MemoryStorage {
  readonly #items = new Map<string, string>();
  get length(): number {
    return this.#items.size;
  }
  key(index: number): string | null {
    return [...this.#items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
  clear(): void {
    this.#items.clear();
  }
}
(globalThis as { sessionStorage?: unknown }).sessionStorage ??= new MemoryStorage();
export {};
