//! Test-only hooks for the end-to-end test (examples/tauri-app/tests), compiled with `--features e2e` only.
//!
//! - The window opens e2e.html (the test page, built by `npm run build:e2e`) instead of index.html; with the
//!   feature `bench` and `PROCESS_SIDECAR_TAURI_PAGE=bench.html` in the environment, the benchmark's page
//!   (bench/page/, `make bench-tauri`).
//! - With the feature `bench` only: the capability bench-capability.json, which lets the page spawn the
//!   benchmark's children through plugin-shell itself (the benchmark's direct side).
//! - `e2e_report` hands one JSON message from the page to the test harness: it is printed as one line,
//!   `E2E <json>`, on this process's stdout. When the page asks for an answer (`wait: true`), the command
//!   reads one line from stdin (the harness's reply, e.g. after it looked at the process table) and returns
//!   it, so the page and the harness proceed in step.
//! - `e2e_close_window` closes the window the way its close button does (CloseRequested, then destroyed).

use std::io::{BufRead, Write};
use std::sync::Mutex;

use tauri::{Runtime, WebviewUrl};

/// One question at a time: a message that waits holds it from its line out until its reply is read, so that
/// two pages' (or two calls') questions and the harness's answers on stdin cannot cross.
static ASKING: Mutex<()> = Mutex::new(());

fn print(message: &serde_json::Value) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "E2E {message}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

#[tauri::command]
async fn e2e_report(message: serde_json::Value, wait: bool) -> Result<Option<String>, String> {
    if !wait {
        return print(&message).map(|()| None);
    }
    // Blocking (the lock, the read): off the async runtime's worker threads.
    tauri::async_runtime::spawn_blocking(move || {
        let _one_at_a_time = ASKING.lock().unwrap_or_else(|e| e.into_inner());
        print(&message)?;
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) => Err("the test harness closed stdin".to_string()),
            Ok(_) => Ok(Some(line.trim_end().to_string())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

#[tauri::command]
fn e2e_close_window<R: Runtime>(window: tauri::WebviewWindow<R>) -> Result<(), String> {
    window.close().map_err(|e| e.to_string())
}

/// The page the window opens: the e2e test page, or (feature `bench`) the benchmark's if asked for.
fn page() -> &'static str {
    #[cfg(feature = "bench")]
    if std::env::var("PROCESS_SIDECAR_TAURI_PAGE").as_deref() == Ok("bench.html") {
        return "bench.html";
    }
    "e2e.html"
}

pub fn install<R: Runtime>(builder: tauri::Builder<R>, context: &mut tauri::Context<R>) -> tauri::Builder<R> {
    for window in &mut context.config_mut().app.windows {
        window.url = WebviewUrl::App(page().into());
    }
    #[cfg(feature = "bench")]
    let builder = builder.setup(|app| {
        use tauri::Manager;
        app.add_capability(include_str!("../bench-capability.json"))?;
        Ok(())
    });
    builder.invoke_handler(tauri::generate_handler![e2e_report, e2e_close_window])
}
