//! Routes llama.cpp's and mtmd's log output.
//!
//! By default nothing reaches stderr: a library must not write to its host's terminal.
//! A host can install a sink ([`set_log_sink`]); the CLI installs one for `--verbose`.
//! Independently, error and warning lines logged on the current thread are captured
//! while a [`Capture`] is alive, so a failed model load can say *why* it failed.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};
use std::sync::{Arc, Once, RwLock};

/// Severity of a llama.cpp log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Receives each complete log line (without its trailing newline).
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
static INSTALL: Once = Once::new();

thread_local! {
    /// Lines captured on this thread while a `Capture` is alive; `None` when not capturing.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    /// A partial line waiting for its continuation (llama.cpp logs some lines in pieces).
    static PARTIAL: RefCell<(Option<LogLevel>, String)> = const { RefCell::new((None, String::new())) };
}

/// Sends llama.cpp's log lines to `sink`, or silences them with `None`.
pub fn set_log_sink(sink: Option<LogSink>) {
    install();
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
}

/// Installs the callback in llama.cpp and mtmd. Idempotent.
pub(crate) fn install() {
    INSTALL.call_once(|| unsafe {
        llama_cpp_sys_2::llama_log_set(Some(on_log), std::ptr::null_mut());
        llama_cpp_sys_2::mtmd_helper_log_set(Some(on_log), std::ptr::null_mut());
    });
}

fn level_of(raw: llama_cpp_sys_2::ggml_log_level) -> Option<LogLevel> {
    match raw {
        llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR => Some(LogLevel::Error),
        llama_cpp_sys_2::GGML_LOG_LEVEL_WARN => Some(LogLevel::Warn),
        llama_cpp_sys_2::GGML_LOG_LEVEL_INFO => Some(LogLevel::Info),
        llama_cpp_sys_2::GGML_LOG_LEVEL_DEBUG => Some(LogLevel::Debug),
        _ => None, // GGML_LOG_LEVEL_CONT or NONE: continues the previous line
    }
}

extern "C" fn on_log(level: llama_cpp_sys_2::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // Never let a panic unwind into C.
    let _ = std::panic::catch_unwind(|| {
        let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
        PARTIAL.with(|partial| {
            let mut partial = partial.borrow_mut();
            if let Some(level) = level_of(level) {
                if partial.0.is_some() && !partial.1.is_empty() {
                    let (lvl, line) = (partial.0.unwrap_or(level), std::mem::take(&mut partial.1));
                    emit(lvl, &line);
                }
                partial.0 = Some(level);
            }
            partial.1.push_str(&text);
            if partial.1.ends_with('\n') {
                let line = std::mem::take(&mut partial.1);
                emit(partial.0.unwrap_or(LogLevel::Info), line.trim_end());
            }
        });
    });
}

fn emit(level: LogLevel, line: &str) {
    if level >= LogLevel::Warn {
        CAPTURED.with(|c| {
            if let Some(lines) = c.borrow_mut().as_mut() {
                lines.push(line.trim().to_string());
            }
        });
    }
    if let Some(sink) = SINK.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        sink(level, line);
    }
}

/// Collects the warning and error lines llama.cpp logs on this thread until dropped.
pub(crate) struct Capture {
    outer: Option<Vec<String>>,
}

impl Capture {
    pub(crate) fn start() -> Self {
        install();
        let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
        Capture { outer }
    }

    /// The captured lines so far, errors first, joined into one readable reason.
    pub(crate) fn reason(&self) -> String {
        CAPTURED.with(|c| {
            let lines = c.borrow();
            let lines = lines.as_deref().unwrap_or_default();
            let errors: Vec<&str> = lines.iter().map(String::as_str).filter(|l| !l.is_empty()).collect();
            // The last few lines carry the cause; earlier ones are usually context.
            let start = errors.len().saturating_sub(3);
            errors[start..].join("; ")
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let outer = self.outer.take();
        CAPTURED.with(|c| *c.borrow_mut() = outer);
    }
}
