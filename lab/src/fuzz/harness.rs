//! Runs one child judge on a set of files: `vlmjudge judge` on one text pair and one
//! image pair, in its own process, under a timeout and an address-space limit.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::outcome::{classify, Exit, Outcome};
use vlmjudge::{Error, Result};

/// How children are started.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The `vlmjudge` binary to run (a sanitizer build to catch memory errors).
    pub bin: PathBuf,
    pub timeout: Duration,
    /// Address-space limit in MiB (`ulimit -v`), so a mutant that makes the loader
    /// allocate wildly fails inside the child instead of swapping the machine; 0 for
    /// none (a sanitizer build needs none: its shadow memory is a huge reservation).
    pub mem_limit_mib: u64,
}

/// The files one child judges with.
#[derive(Debug, Clone)]
pub struct ChildFiles<'a> {
    pub model: &'a Path,
    pub mmproj: &'a Path,
    pub lora: Option<&'a Path>,
    pub pairs: &'a Path,
    pub n_pairs: usize,
}

/// The end of one child run.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub outcome: Outcome,
    pub exit: Exit,
    pub stderr: String,
    pub elapsed: Duration,
    /// The command line, for reproducing the run by hand.
    pub command: String,
}

/// Runs the child in `scratch` (its verdicts file and stderr go there) and classifies
/// how it ended.
pub fn run_child(spec: &ChildSpec, files: &ChildFiles<'_>, scratch: &Path) -> Result<ChildRun> {
    std::fs::create_dir_all(scratch).map_err(|e| Error::io(scratch, e))?;
    let out = scratch.join("verdicts.jsonl");
    let stderr_path = scratch.join("stderr.txt");
    // The judge appends and skips ids already judged: every run starts empty.
    let _ = std::fs::remove_file(&out);
    let mut args: Vec<String> = vec!["judge".into(), "--model".into(), arg(files.model), "--mmproj".into()];
    args.push(arg(files.mmproj));
    if let Some(lora) = files.lora {
        args.extend(["--lora".into(), arg(lora)]);
    }
    args.extend(["--pairs".into(), arg(files.pairs), "--out".into(), arg(&out)]);
    // One thread per child: the harness runs several children at once.
    args.extend(["--threads".into(), "1".into(), "--quiet".into()]);

    let mut command = if spec.mem_limit_mib > 0 {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg("ulimit -v \"$1\" && shift && exec \"$@\"").arg("sh");
        c.arg((spec.mem_limit_mib * 1024).to_string()).arg(&spec.bin);
        c
    } else {
        Command::new(&spec.bin)
    };
    command.args(&args);
    // ggml would otherwise try to attach gdb for a backtrace on every abort.
    if std::env::var_os("GGML_NO_BACKTRACE").is_none() {
        command.env("GGML_NO_BACKTRACE", "1");
    }
    let stderr_file = File::create(&stderr_path).map_err(|e| Error::io(&stderr_path, e))?;
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr_file);
    let display = format!("{} {}", spec.bin.display(), args.join(" "));

    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| Error::io(&spec.bin, e))?;
    let exit = loop {
        match child.try_wait().map_err(|e| Error::io(&spec.bin, e))? {
            Some(status) => match (status.code(), signal_of(status)) {
                (Some(code), _) => break Exit::Code(code),
                (None, Some(sig)) => break Exit::Signal(sig),
                (None, None) => break Exit::Code(-1),
            },
            None if started.elapsed() >= spec.timeout => {
                // The child is our own process, spawned above: kill it by its id.
                let _ = child.kill();
                let _ = child.wait();
                break Exit::TimedOut;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let elapsed = started.elapsed();
    let stderr = read_lossy(&stderr_path);
    let verdicts = std::fs::read_to_string(&out).ok();
    let outcome = classify(exit, &stderr, verdicts.as_deref(), files.n_pairs);
    Ok(ChildRun { outcome, exit, stderr, elapsed, command: display })
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn signal_of(_: ExitStatus) -> Option<i32> {
    None
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// A file's text, lossily decoded; empty when unreadable. Only the last 64 KiB are
/// kept: a child that logs a whole vocabulary must not blow up the harness.
fn read_lossy(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let tail = &bytes[bytes.len().saturating_sub(64 << 10)..];
    String::from_utf8_lossy(tail).into_owned()
}
