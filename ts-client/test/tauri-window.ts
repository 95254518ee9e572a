/**
 * @tauri-apps/api/mocks expects a browser `window`. Imported first by the Tauri test, so that it exists before
 * any Tauri module is evaluated.
 */
(globalThis as { window?: unknown }).window ??= globalThis;
export {};
