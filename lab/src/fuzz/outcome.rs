//! What happened to one child run, and a short signature of why.

use std::fmt;

/// How a child judge ended. Only the first three are acceptable for a corrupt file: the
/// rest are bugs (a crash, a hang, a memory error, a Rust panic, an exit that is
/// neither success nor a reported error, or success without the verdicts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Exit 0 with a verdict per pair, none with an error.
    Success,
    /// Exit 0 with a verdict per pair, some carrying an error message.
    PairError,
    /// A nonzero exit with an `error:` message.
    CleanError,
    /// Killed by a signal (SIGABRT from a failed assertion, SIGSEGV, SIGBUS, ...).
    Abort,
    /// Still running at the timeout, then killed.
    Hang,
    /// A sanitizer's report on stderr (only a sanitizer build writes one).
    Sanitizer,
    /// A Rust panic (exit 101).
    Panic,
    /// A nonzero exit without an error message.
    BadExit,
    /// Exit 0, but the verdicts file is missing, short or not JSON.
    BadOutput,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::Success,
        Class::PairError,
        Class::CleanError,
        Class::Abort,
        Class::Hang,
        Class::Sanitizer,
        Class::Panic,
        Class::BadExit,
        Class::BadOutput,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Success => "success",
            Class::PairError => "pair-error",
            Class::CleanError => "clean-error",
            Class::Abort => "abort",
            Class::Hang => "hang",
            Class::Sanitizer => "sanitizer",
            Class::Panic => "panic",
            Class::BadExit => "bad-exit",
            Class::BadOutput => "bad-output",
        }
    }

    /// A bug in the runtime: what the fuzzer exists to find.
    pub fn is_failure(self) -> bool {
        !matches!(self, Class::Success | Class::PairError | Class::CleanError)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

/// A classified run: its class and a one-line signature (the assertion, the signal,
/// the error message) that groups runs failing the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub class: Class,
    pub signature: String,
}

/// Classifies a run from its exit, its stderr and, after exit 0, its verdicts file
/// (`None` when it could not be read) holding `n_pairs` pairs.
pub fn classify(exit: Exit, stderr: &str, verdicts: Option<&str>, n_pairs: usize) -> Outcome {
    let outcome = |class, signature: String| Outcome { class, signature };
    if let Some(line) = sanitizer_line(stderr) {
        return outcome(Class::Sanitizer, line);
    }
    match exit {
        Exit::TimedOut => outcome(Class::Hang, "timeout".into()),
        Exit::Signal(sig) => {
            let why = crash_message(stderr).unwrap_or_else(|| "no message".into());
            outcome(Class::Abort, format!("{}: {why}", signal_name(sig)))
        }
        Exit::Code(101) => outcome(Class::Panic, panic_line(stderr).unwrap_or_else(|| "exit 101".into())),
        Exit::Code(0) => verdicts_outcome(verdicts, n_pairs),
        Exit::Code(code) => match error_message(stderr) {
            Some(message) => outcome(Class::CleanError, message),
            None => outcome(Class::BadExit, format!("exit {code}: {}", last_line(stderr))),
        },
    }
}

fn verdicts_outcome(verdicts: Option<&str>, n_pairs: usize) -> Outcome {
    let bad = |why: String| Outcome { class: Class::BadOutput, signature: why };
    let Some(text) = verdicts else { return bad("no verdicts file".into()) };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != n_pairs {
        return bad(format!("{} verdicts for {n_pairs} pairs", lines.len()));
    }
    let mut errors = Vec::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return bad(format!("a verdict is not JSON: {}", cut(line, 80)));
        };
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            errors.push(cut(e, 160));
        }
    }
    if errors.is_empty() {
        Outcome { class: Class::Success, signature: String::new() }
    } else {
        Outcome { class: Class::PairError, signature: errors.join(" | ") }
    }
}

fn sanitizer_line(stderr: &str) -> Option<String> {
    const MARKS: [&str; 3] = ["ERROR: AddressSanitizer", "LeakSanitizer", "ThreadSanitizer"];
    // UBSan writes `file:line:col: runtime error: ...`; Rust's own abort message is a
    // `fatal runtime error:`, which is no sanitizer's.
    let ubsan = |l: &str| l.contains("runtime error:") && !l.contains("fatal runtime error:");
    stderr.lines().find(|l| ubsan(l) || MARKS.iter().any(|m| l.contains(m))).map(|l| shorten_paths(l.trim()))
}

/// What the dying process said: a ggml assertion or abort (`file:line: message`), an
/// uncaught C++ exception, or the first of Rust's abort messages.
fn crash_message(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    if let Some(l) = lines.iter().find(|l| l.contains("GGML_ASSERT") || l.contains("GGML_ABORT")) {
        return Some(shorten_paths(l.trim()));
    }
    if let Some(i) = lines.iter().position(|l| l.contains("terminate called")) {
        let what = lines.get(i + 1).filter(|l| l.contains("what()")).map_or("", |l| l.trim());
        return Some(format!("{} {what}", lines[i].trim()));
    }
    if let Some(l) = lines.iter().find(|l| is_ggml_abort_line(l)) {
        return Some(shorten_paths(l.trim()));
    }
    lines.iter().rev().find(|l| !l.trim().is_empty()).map(|l| cut(l.trim(), 200))
}

/// ggml's `GGML_ABORT("...")` prints `path/file.c:123: message`.
fn is_ggml_abort_line(line: &str) -> bool {
    let Some((head, _)) = line.split_once(": ") else { return false };
    let Some((file, number)) = head.rsplit_once(':') else { return false };
    (file.ends_with(".c") || file.ends_with(".cpp") || file.ends_with(".h")) && number.parse::<u32>().is_ok()
}

fn panic_line(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let i = lines.iter().position(|l| l.contains("panicked at"))?;
    // From "panicked at": the thread's name and id before it differ from run to run.
    let at = &lines[i][lines[i].find("panicked at").unwrap_or(0)..];
    let message = lines.get(i + 1).map_or("", |l| l.trim());
    Some(format!("{} {}", shorten_paths(at.trim()), cut(message, 160)))
}

/// The CLI's `error: ...` line and its `caused by:` lines, joined.
fn error_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.starts_with("error: "));
    let first = lines.next()?;
    let causes: Vec<&str> = lines.take_while(|l| l.starts_with("caused by: ")).collect();
    let all = std::iter::once(first).chain(causes).collect::<Vec<_>>().join(" / ");
    Some(cut(&all, 300))
}

fn last_line(stderr: &str) -> String {
    stderr.lines().rev().find(|l| !l.trim().is_empty()).map_or(String::new(), |l| cut(l.trim(), 160))
}

/// Drops directories from source paths (`/root/.cargo/.../ggml/src/gguf.cpp:12:` ->
/// `gguf.cpp:12:`), so one assertion gets one signature wherever it was built.
fn shorten_paths(line: &str) -> String {
    line.split(' ')
        .map(|word| match word.rfind('/') {
            Some(i) if word.contains(".c") || word.contains(".h") || word.contains(".rs") => &word[i + 1..],
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(max).collect::<String>())
    }
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        4 => "SIGILL".into(),
        6 => "SIGABRT".into(),
        7 => "SIGBUS".into(),
        8 => "SIGFPE".into(),
        9 => "SIGKILL".into(),
        11 => "SIGSEGV".into(),
        15 => "SIGTERM".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ggml_assertion_is_an_abort_named_by_its_file_line_and_condition() {
        let stderr =
            "loading\n/root/.cargo/registry/src/x/llama.cpp/src/llama-vocab.cpp:2345: GGML_ASSERT(id < n) failed\n";
        let o = classify(Exit::Signal(6), stderr, None, 2);
        assert_eq!(o.class, Class::Abort);
        assert_eq!(o.signature, "SIGABRT: llama-vocab.cpp:2345: GGML_ASSERT(id < n) failed");
    }

    #[test]
    fn exits_are_told_apart() {
        let error = "error: cannot load the judge m.gguf\ncaused by: llama.cpp could not load the model\n";
        assert_eq!(classify(Exit::Code(1), error, None, 2).class, Class::CleanError);
        assert!(classify(Exit::Code(1), error, None, 2).signature.contains("caused by: llama.cpp"));
        assert_eq!(classify(Exit::Code(2), "garbage", None, 2).class, Class::BadExit);
        let panic = classify(Exit::Code(101), "thread 'main' (4242) panicked at src/x.rs:1:2:\nboom", None, 2);
        assert_eq!((panic.class, panic.signature.as_str()), (Class::Panic, "panicked at x.rs:1:2: boom"));
        assert_eq!(classify(Exit::TimedOut, "", None, 2).class, Class::Hang);
        let asan = "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address";
        assert_eq!(classify(Exit::Code(1), asan, None, 2).class, Class::Sanitizer);
        let ubsan = "ggml.c:12:3: runtime error: signed integer overflow";
        assert_eq!(classify(Exit::Code(0), ubsan, Some(""), 2).class, Class::Sanitizer);
        let foreign = "fatal runtime error: Rust cannot catch foreign exceptions, aborting";
        let o = classify(Exit::Signal(6), foreign, None, 2);
        assert_eq!(
            (o.class, o.signature.as_str()),
            (Class::Abort, "SIGABRT: fatal runtime error: Rust cannot catch foreign exceptions, aborting")
        );
        let terminate = "terminate called after throwing an instance of 'std::out_of_range'\n  what():  vector";
        let o = classify(Exit::Signal(6), terminate, None, 2);
        assert!(o.signature.contains("std::out_of_range") && o.signature.contains("what()"), "{}", o.signature);
    }

    #[test]
    fn success_needs_a_json_verdict_per_pair() {
        let ok = "{\"id\":\"a\",\"verdict\":\"A\"}\n{\"id\":\"b\",\"verdict\":\"B\"}\n";
        assert_eq!(classify(Exit::Code(0), "", Some(ok), 2).class, Class::Success);
        let one_error = "{\"id\":\"a\",\"verdict\":\"A\"}\n{\"id\":\"b\",\"error\":\"image failed\"}\n";
        let o = classify(Exit::Code(0), "", Some(one_error), 2);
        assert_eq!((o.class, o.signature.as_str()), (Class::PairError, "image failed"));
        assert_eq!(classify(Exit::Code(0), "", Some("{\"id\":\"a\"}\n"), 2).class, Class::BadOutput);
        assert_eq!(classify(Exit::Code(0), "", Some("{\n}\n"), 2).class, Class::BadOutput);
        assert_eq!(classify(Exit::Code(0), "", None, 2).class, Class::BadOutput);
    }
}
