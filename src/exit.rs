//! How a vlmjudge command ends (the `vlmjudge` and `vlmjudge-lab` binaries alike):
//! `error: ...` then one `caused by: ...` line per cause, exit code 1 for what the user
//! can fix (arguments, files, input) and 2 for the rest.

use std::process::ExitCode;

/// Marks an error the user can fix (bad arguments or input): exit code 1.
#[derive(Debug)]
pub struct UserError(pub String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// Lets a closed pipe end the command quietly, as it ends other Unix tools
/// (`vlmjudge report RUN | head -1`). Rust starts programs with SIGPIPE ignored, so
/// the next print to a closed pipe would panic instead. The binaries call this first
/// thing; the library never changes its host's signals.
pub fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called at the start of main, before any thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The command line, or the exit code of a usage error (1: clap's own default would
/// be 2, but a usage error is the user's to fix; 0 for `--help` and `--version`).
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| {
        let code = if e.use_stderr() { 1 } else { 0 };
        let _ = e.print();
        ExitCode::from(code)
    })
}

/// Prints a command's error, if any, and gives its exit code.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("caused by: {cause}");
    }
    ExitCode::from(if is_user_error(&error) { 1 } else { 2 })
}

fn is_user_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<UserError>().is_some()
            || cause.downcast_ref::<crate::Error>().is_some_and(crate::Error::is_user_error)
    })
}
