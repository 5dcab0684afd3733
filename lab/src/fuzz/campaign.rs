//! A fuzzing campaign: mutants `start..start+count`, each run by a child judge, `jobs`
//! at a time, with failures kept for replay.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use rand::SeedableRng;

use super::bases::{prepare, write_pairs, BaseFile, BaseSet};
use super::harness::{run_child, ChildFiles, ChildRun, ChildSpec};
use super::mutate::{mutate, FuzzRng, Mutant};
use super::totals::{MutantResult, Totals};
use super::Role;
use crate::fixture::FixtureKind;
use vlmjudge::{Error, Result};

/// What to fuzz and how.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    pub seed: u64,
    /// The first mutant's index (to replay one: `start = i`, `count = 1`).
    pub start: u64,
    pub count: u64,
    /// Children at once.
    pub jobs: usize,
    /// Base files, pairs and the running mutants go here.
    pub work: PathBuf,
    /// Every failing mutant is copied here with a description.
    pub keep: Option<PathBuf>,
    pub child: ChildSpec,
    /// SmolLM2-135M-Instruct, whose tokenizer the fixtures copy.
    pub demo_model: PathBuf,
    /// The fixtures to start from; every model, mmproj and adapter of them is a base.
    pub kinds: Vec<FixtureKind>,
}

/// The fixtures a campaign starts from by default: the tiny VLM and each family.
pub const DEFAULT_KINDS: [FixtureKind; 5] =
    [FixtureKind::TinyVlm, FixtureKind::Smolvlm, FixtureKind::Qwen25vl, FixtureKind::Gemma3, FixtureKind::Llava16];

/// Mutant `index` of `seed`: drawn from its own stream of the seed, so it does not
/// depend on which mutants ran before it or on how many jobs ran them.
pub fn make_mutant(seed: u64, index: u64, base: &BaseFile) -> Mutant {
    let mut rng = FuzzRng::seed_from_u64(seed);
    rng.set_stream(index);
    mutate(&base.doc, base.role, &mut rng)
}

/// Runs the campaign, calling `on_result` (on this thread) as each mutant finishes,
/// in completion order. Returns the totals.
pub fn run_campaign(config: &FuzzConfig, mut on_result: impl FnMut(&MutantResult)) -> Result<Totals> {
    if config.kinds.is_empty() || config.jobs == 0 {
        return Err(Error::InvalidArgument("a campaign needs at least one fixture kind and one job".into()));
    }
    let (sets, files) = prepare(&config.work.join("bases"), &config.kinds, &config.demo_model)?;
    let (pairs, n_pairs) = write_pairs(&config.work.join("inputs"))?;
    if let Some(keep) = &config.keep {
        std::fs::create_dir_all(keep).map_err(|e| Error::io(keep, e))?;
    }
    let end = config.start.saturating_add(config.count);
    let next = AtomicU64::new(config.start);
    let stop = AtomicBool::new(false);
    let mut totals = Totals::default();
    let mut first_error = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Result<MutantResult>>();
        for job in 0..config.jobs {
            let tx = tx.clone();
            let worker = Worker { config, sets: &sets, files: &files, pairs: &pairs, n_pairs, job };
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= end {
                        break;
                    }
                    if tx.send(worker.run(index)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            match result {
                Ok(r) => {
                    totals.add(&r);
                    on_result(&r);
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

struct Worker<'a> {
    config: &'a FuzzConfig,
    sets: &'a [BaseSet],
    files: &'a [BaseFile],
    pairs: &'a Path,
    n_pairs: usize,
    job: usize,
}

impl Worker<'_> {
    fn run(&self, index: u64) -> Result<MutantResult> {
        let base = &self.files[(index % self.files.len() as u64) as usize];
        let set = &self.sets[base.set];
        let mutant = make_mutant(self.config.seed, index, base);
        let scratch = self.config.work.join(format!("job-{}", self.job));
        std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
        let path = scratch.join(format!("mutant-{}.gguf", base.role));
        std::fs::write(&path, &mutant.bytes).map_err(|e| Error::io(&path, e))?;
        let in_role = |role: Role| if base.role == role { path.as_path() } else { set.path(role) };
        let files = ChildFiles {
            model: in_role(Role::Model),
            mmproj: in_role(Role::Mmproj),
            lora: (base.role == Role::Lora).then_some(path.as_path()),
            pairs: self.pairs,
            n_pairs: self.n_pairs,
        };
        let run = run_child(&self.config.child, &files, &scratch)?;
        let mut result = MutantResult {
            index,
            base: base.label.clone(),
            role: base.role,
            description: mutant.description,
            outcome: run.outcome.clone(),
            elapsed: run.elapsed,
            kept: None,
        };
        if result.outcome.class.is_failure() {
            if let Some(keep) = &self.config.keep {
                result.kept = Some(self.keep(keep, &result, &mutant.bytes, &run, set)?);
            }
        }
        Ok(result)
    }

    /// Copies the mutant to `keep` with a description file, and appends a line to
    /// `keep/index.tsv`.
    fn keep(&self, keep: &Path, r: &MutantResult, bytes: &[u8], run: &ChildRun, set: &BaseSet) -> Result<PathBuf> {
        let stem = format!("s{}-{:06}-{}-{}-{}", self.config.seed, r.index, r.outcome.class, set.kind.name(), r.role);
        let path = keep.join(format!("{stem}.gguf"));
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        let cfg = self.config;
        let mut text = String::new();
        let _ = writeln!(text, "mutant {} of seed {} on {}: {}", r.index, cfg.seed, r.base, r.description);
        let _ = writeln!(text, "class: {}\nsignature: {}", r.outcome.class, r.outcome.signature);
        let _ = writeln!(text, "exit: {:?} after {:.2} s", run.exit, r.elapsed.as_secs_f64());
        let _ = writeln!(text, "mutated file: {} (replaces {})", path.display(), set.path(r.role).display());
        let _ = writeln!(text, "command: {}", run.command);
        let _ = writeln!(
            text,
            "replay (with this build: new mutation operators renumber the mutants): \
             vlmjudge-lab fuzz --seed {} --start {} --count 1 --work {}",
            cfg.seed,
            r.index,
            cfg.work.display()
        );
        let lines: Vec<&str> = run.stderr.lines().collect();
        let _ = writeln!(text, "stderr (last lines):");
        for line in &lines[lines.len().saturating_sub(40)..] {
            let _ = writeln!(text, "  {line}");
        }
        let txt = keep.join(format!("{stem}.txt"));
        std::fs::write(&txt, text).map_err(|e| Error::io(&txt, e))?;
        let index_path = keep.join("index.tsv");
        let line = format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            r.index,
            r.outcome.class,
            r.base,
            r.description.replace('\t', " "),
            r.outcome.signature.replace('\t', " "),
            path.display()
        );
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index_path)
            .map_err(|e| Error::io(&index_path, e))?;
        f.write_all(line.as_bytes()).map_err(|e| Error::io(&index_path, e))?;
        Ok(path)
    }
}
