use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vlmjudge::progress::Progress;

/// An indicatif bar on stderr; draws nothing when stderr is not a terminal or `--quiet`.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    visible: bool,
}

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        Bar { bar: Mutex::new(None), visible: !quiet && std::io::stderr().is_terminal() }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            f(bar);
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: u64, done: u64) {
        let target = if self.visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.set_position(done);
        bar.reset_eta();
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn advance(&self, n: u64) {
        self.with(|b| b.inc(n));
    }

    fn message(&self, text: &str) {
        self.with(|b| b.set_message(text.to_string()));
    }

    fn finish(&self) {
        self.with(ProgressBar::finish_and_clear);
    }
}

impl vlmjudge::improve::RoundLog for Bar {
    /// Stage lines go to stderr whatever the terminal, so logs of batch jobs keep them.
    fn stage(&self, round: u32, stage: vlmjudge::improve::Stage, detail: &str) {
        let line = format!("round {round} {stage}: {detail}");
        match self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}
