//! Counts of outcomes per class and per base file, and the distinct failures found.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::outcome::{Class, Outcome};
use super::Role;

/// What became of one mutant.
#[derive(Debug, Clone)]
pub struct MutantResult {
    pub index: u64,
    /// The base file, e.g. `gemma3/mmproj`.
    pub base: String,
    pub role: Role,
    pub description: String,
    pub outcome: Outcome,
    /// How long the child ran.
    pub elapsed: Duration,
    /// Where the mutant was kept (failures only, with a keep directory).
    pub kept: Option<PathBuf>,
}

/// One distinct failure: its class and signature, how often it occurred and its first
/// example.
#[derive(Debug, Clone)]
pub struct Finding {
    pub class: Class,
    pub signature: String,
    pub count: usize,
    pub first: MutantResult,
}

#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub by_class: BTreeMap<Class, usize>,
    pub by_base: BTreeMap<String, BTreeMap<Class, usize>>,
    /// Keyed by class and normalised signature.
    pub findings: BTreeMap<(Class, String), Finding>,
    pub mutants: usize,
    /// The children's summed run time.
    pub child_time: Duration,
}

impl Totals {
    pub fn add(&mut self, r: &MutantResult) {
        let class = r.outcome.class;
        *self.by_class.entry(class).or_default() += 1;
        *self.by_base.entry(r.base.clone()).or_default().entry(class).or_default() += 1;
        self.mutants += 1;
        self.child_time += r.elapsed;
        if class.is_failure() {
            let key = (class, normalise(&r.outcome.signature));
            self.findings
                .entry(key)
                .or_insert_with(|| Finding {
                    class,
                    signature: r.outcome.signature.clone(),
                    count: 0,
                    first: r.clone(),
                })
                .count += 1;
        }
    }

    pub fn count(&self, class: Class) -> usize {
        self.by_class.get(&class).copied().unwrap_or(0)
    }

    /// Mutants whose run was a bug (abort, hang, sanitizer report, panic, ...).
    pub fn failures(&self) -> usize {
        self.by_class.iter().filter(|(c, _)| c.is_failure()).map(|(_, n)| n).sum()
    }

    /// One line: every class with its count, e.g. `success 120  clean-error 80  abort 0 ...`.
    pub fn summary(&self) -> String {
        Class::ALL.iter().map(|&c| format!("{c} {}", self.count(c))).collect::<Vec<_>>().join("  ")
    }

    /// A table of counts per base file and class, with a total row.
    pub fn table(&self) -> String {
        let classes: Vec<Class> =
            Class::ALL.into_iter().filter(|c| !c.is_failure() || self.count(*c) > 0 || is_core(*c)).collect();
        let mut out = String::new();
        let _ = write!(out, "{:<20}", "base");
        for c in &classes {
            let _ = write!(out, "{:>12}", c.name());
        }
        out.push('\n');
        let rows = self.by_base.iter().map(|(base, counts)| (base.as_str(), counts.clone()));
        for (base, counts) in rows.chain([("total", self.by_class.clone())]) {
            let _ = write!(out, "{base:<20}");
            for c in &classes {
                let _ = write!(out, "{:>12}", counts.get(c).copied().unwrap_or(0));
            }
            out.push('\n');
        }
        out
    }
}

/// The classes every table shows, even at zero: the ones the issue asks about.
fn is_core(c: Class) -> bool {
    matches!(c, Class::Abort | Class::Hang | Class::Sanitizer)
}

/// The key a failure is counted under: its signature, except that a ggml abort other
/// than an assertion (`file.cpp:123: message with values`) counts by file and line,
/// and the numbers inside an exception's message are masked, so one check failing on
/// different values (types, tensor names, indices) is one finding.
fn normalise(signature: &str) -> String {
    if let Some((head, what)) = signature.split_once("what():") {
        let mut masked = String::new();
        for c in what.chars() {
            match c.is_ascii_digit() {
                true if masked.ends_with('#') => {}
                true => masked.push('#'),
                false => masked.push(c),
            }
        }
        return format!("{head}what():{masked}");
    }
    if signature.contains("GGML_ASSERT") {
        return signature.to_string();
    }
    let mut key = String::new();
    for word in signature.split(' ') {
        key.push_str(word);
        if is_source_line(word) {
            return key;
        }
        key.push(' ');
    }
    signature.to_string()
}

/// `file.cpp:123:`
fn is_source_line(word: &str) -> bool {
    let Some(rest) = word.strip_suffix(':') else { return false };
    let Some((file, line)) = rest.rsplit_once(':') else { return false };
    [".c", ".cpp", ".h"].iter().any(|ext| file.ends_with(ext)) && line.parse::<u32>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_check_failing_on_different_values_is_one_finding() {
        let a = "SIGABRT: binary-ops.cpp:135: binary_op: unsupported types: dst: f32, src0: f32, src1: f16";
        let b = "SIGABRT: binary-ops.cpp:135: binary_op: unsupported types: dst: f32, src0: f32, src1: q4_1";
        assert_eq!(normalise(a), "SIGABRT: binary-ops.cpp:135:");
        assert_eq!(normalise(a), normalise(b));
        let assert = "SIGABRT: ops.cpp:4026: GGML_ASSERT(eps >= 0.0f) failed";
        assert_eq!(normalise(assert), assert);
        assert_ne!(normalise(assert), normalise("SIGABRT: ops.cpp:4132: GGML_ASSERT(eps >= 0.0f) failed"));
        let x = "SIGABRT: terminate called after throwing an instance of 'std::out_of_range' what():  at 12 >= 9";
        assert_eq!(normalise(x), normalise(&x.replace("12", "400")));
    }
}
