// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

//! The whole Rust side of the app: the shell plugin, which runs the bundled sidecar for the page
//! (binaries/process-sidecar, see tauri.conf.json and capabilities/default.json). Everything else happens in
//! the page, through process-sidecar's TypeScript client.

#[cfg(feature = "e2e")]
mod e2e;

fn main() {
    let builder = tauri::Builder::default().plugin(tauri_plugin_shell::init());
    #[allow(unused_mut)]
    let mut context = tauri::generate_context!();
    #[cfg(feature = "e2e")]
    let builder = e2e::install(builder, &mut context);
    builder.run(context).expect("error while running the app");
}
