//! The synth stage: a prompt pool in, synthetic preference pairs out, no labels used.
//!
//! - Closed questions: `samples` answers are drawn at the paper's temperature; the
//!   answer whose normalised form wins the vote (and reaches `threshold` votes) is the
//!   preferred response, a random sample with another answer the rejected one.
//! - Open questions: one response is drawn, then made worse by changing one or two
//!   concrete details. The model itself is asked to rewrite it (`Inject::Model`), or
//!   the details are swapped by rules (`Inject::Rules`), or the model first and the
//!   rules when its rewrite fails the edit check (`Inject::Auto`).
//!
//! Pairs are appended to the output as they are made; prompts that yield no pair are
//! appended to `<out>.skipped.jsonl` with the reason, so a rerun skips both.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::SynthCounts;
use crate::data::{read_prompts, rebase_path, AppendLog, PairRecord, PromptRecord};
use crate::engine::{ImageSource, Model, SamplingParams};
use crate::generate::{GenOutput, GenParams, GenRequest, Generator};
use crate::progress::Progress;
use crate::seed::stream_seed;
use crate::shard::Shard;
use crate::synth::{
    check_edit, clean_rewrite, inject_errors, majority_pair, normalize_answer, rewrite_instruction, Injected, NoPair,
    QuestionKind,
};
use crate::{Error, Result};

/// How open-ended responses are made worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inject {
    /// Ask the model to rewrite its response with changed details.
    Model,
    /// Swap numbers, colours, positions, sizes or objects by rule.
    Rules,
    /// The model's rewrite, or the rules when it fails the edit check.
    #[default]
    Auto,
}

/// What a closed question makes when every sample gives the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unanimous {
    /// No pair: there is no other answer to reject (the paper).
    #[default]
    Skip,
    /// The agreed answer against itself with one detail changed by rule, as an
    /// open-ended response is made worse. A model that never wavers on a question is
    /// usually right about it; without this, the vote pairs only the questions that
    /// split the model, where a weak one is least often right.
    Inject,
    /// The agreed answer against the model's runner-up: the other answer it gives most
    /// often when sampled again from its whole distribution (`resample_temperature`,
    /// no top-p). The label of the unanimous vote, and a wrong answer in the model's
    /// own words, which a judge can quote. No hotter sample differing, no pair.
    Resample,
}

/// Settings of the synth stage; `Default` follows the paper.
#[derive(Debug, Clone)]
pub struct SynthParams {
    pub sampling: SamplingParams,
    /// Answers sampled per closed question.
    pub samples: usize,
    /// Votes the majority answer needs.
    pub threshold: usize,
    pub unanimous: Unanimous,
    /// Temperature of the second draw of [`Unanimous::Resample`].
    pub resample_temperature: f32,
    /// Most tokens of a closed answer, and of an open response (and its rewrite).
    pub closed_max_tokens: u32,
    pub open_max_tokens: u32,
    pub inject: Inject,
    /// Details changed per injected error set (1..=max_edits).
    pub max_edits: usize,
    /// The most of a response's words an edit may change.
    pub max_changed_fraction: f64,
    pub seed: u64,
    pub threads: usize,
    /// Prompts in flight.
    pub parallel: usize,
    pub ctx_per_seq: u32,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            sampling: SamplingParams { temperature: 0.6, top_k: 50, top_p: 0.9 },
            samples: 16,
            threshold: 5,
            unanimous: Unanimous::Skip,
            resample_temperature: 1.0,
            closed_max_tokens: 32,
            open_max_tokens: 160,
            inject: Inject::Auto,
            max_edits: 2,
            max_changed_fraction: 0.5,
            seed: 0,
            threads: 0,
            parallel: 4,
            ctx_per_seq: 1024,
        }
    }
}

/// One synthetic pair: a pairs-file line plus how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthPair {
    #[serde(flatten)]
    pub pair: PairRecord,
    pub kind: QuestionKind,
    /// `majority`, `unanimous` (closed, an error injected), `resampled` (closed, the
    /// model's hotter answer), `rewrite` (the model's) or `rules`.
    pub method: String,
    /// Closed questions: votes of the majority answer out of the samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<(usize, usize)>,
    /// Open questions: the details changed (`from -> to`), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<String>,
}

/// A prompt that yielded no pair, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedPrompt {
    pub id: String,
    pub kind: QuestionKind,
    pub reason: String,
}

/// Where prompts that yield no pair are recorded next to `out`.
pub fn skipped_path(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{}.skipped.jsonl", name.trim_end_matches(".jsonl")))
}

/// Synthesises pairs for the shard's prompts of `prompts_path` not yet in `out` (or its
/// skipped file), appending as they are made; returns the counts over the shard's
/// prompts, earlier runs included.
pub fn synth_file(
    model: &Model,
    prompts_path: &Path,
    out: &Path,
    params: &SynthParams,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<SynthCounts> {
    validate(params)?;
    let prompts = shard.select(read_prompts(prompts_path)?);
    let base_dir = prompts_path.parent().unwrap_or(Path::new("."));
    let mut pairs = AppendLog::open(out)?;
    let mut skipped = AppendLog::open(&skipped_path(out))?;
    let todo: Vec<&PromptRecord> =
        prompts.iter().filter(|p| !pairs.done().contains(&p.id) && !skipped.done().contains(&p.id)).collect();
    progress.start("synthesising", prompts.len() as u64, (prompts.len() - todo.len()) as u64);
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let mut writer = Writer { pairs: &mut pairs, skipped: &mut skipped, progress, base_dir, out_dir };

    let kinds: Vec<QuestionKind> = todo.iter().map(|p| kind_of(p)).collect();
    let max_tokens = params.closed_max_tokens.max(params.open_max_tokens);
    let mut generator = Generator::new(model, gen_params(params, params.sampling, max_tokens, params.seed))?;

    // Phase 1: closed answers (many samples) and open responses (one each).
    let requests: Vec<GenRequest> = todo
        .iter()
        .zip(&kinds)
        .map(|(p, kind)| answer_request(p, base_dir, if *kind == QuestionKind::Closed { params.samples } else { 1 }))
        .collect();
    let mut open_responses: Vec<(usize, String)> = Vec::new();
    let mut agreed_closed: Vec<(usize, Agreed)> = Vec::new();
    let mut failure = None;
    generator.generate(&requests, |i, output| {
        let prompt = todo[i];
        let result = match (kinds[i], output) {
            (kind, GenOutput { error: Some(e), .. }) => writer.skip(prompt, kind, format!("generation failed: {e}")),
            (QuestionKind::Closed, output) => writer.closed(prompt, &output.samples, params).map(|deferred| {
                if let Some(agreed) = deferred {
                    agreed_closed.push((i, agreed));
                }
            }),
            (QuestionKind::Open, output) => {
                let response = output.samples.into_iter().next().unwrap_or_default();
                if response.trim().is_empty() {
                    writer.skip(prompt, QuestionKind::Open, "the response is empty".into())
                } else {
                    open_responses.push((i, response));
                    Ok(())
                }
            }
        };
        keep_going(result, &mut failure)
    })?;
    if let Some(e) = failure.take() {
        return Err(e);
    }

    // Phase 2: the model's rewrites of the open responses (skipped with `Rules`).
    let mut rewrites: Vec<Option<String>> = vec![None; open_responses.len()];
    if params.inject != Inject::Rules && !open_responses.is_empty() {
        let requests: Vec<GenRequest> = open_responses
            .iter()
            .map(|(i, response)| GenRequest {
                id: format!("{}/rewrite", todo[*i].id),
                system: None,
                user: rewrite_instruction(&todo[*i].question, response),
                image: None,
                n: 1,
            })
            .collect();
        generator.generate(&requests, |k, output| {
            rewrites[k] = output.samples.into_iter().next().map(|raw| clean_rewrite(&raw));
            true
        })?;
    }
    for ((i, response), rewrite) in open_responses.into_iter().zip(rewrites) {
        writer.open(todo[i], &response, rewrite, params)?;
    }
    drop(generator);

    // Phase 3: the unanimous closed questions again, sampled hotter (`Resample`).
    if !agreed_closed.is_empty() {
        let hotter =
            SamplingParams { temperature: params.resample_temperature, top_k: params.sampling.top_k, top_p: 1.0 };
        let seed = stream_seed(params.seed, "resample");
        let mut generator = Generator::new(model, gen_params(params, hotter, params.closed_max_tokens, seed))?;
        let requests: Vec<GenRequest> =
            agreed_closed.iter().map(|(i, _)| answer_request(todo[*i], base_dir, params.samples)).collect();
        generator.generate(&requests, |k, output| {
            let (i, agreed) = &agreed_closed[k];
            let result = match output.error {
                Some(e) => writer.skip(todo[*i], QuestionKind::Closed, format!("generation failed: {e}")),
                None => writer.resampled(todo[*i], agreed, &output.samples, params),
            };
            keep_going(result, &mut failure)
        })?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    progress.finish();
    count(&prompts, out)
}

/// `n` of the model's answers to a prompt, as asked (no system prompt).
fn answer_request(prompt: &PromptRecord, base_dir: &Path, n: usize) -> GenRequest {
    GenRequest {
        id: prompt.id.clone(),
        system: None,
        user: prompt.question.clone(),
        image: prompt.image_path(base_dir).map(ImageSource::Path),
        n,
    }
}

fn gen_params(params: &SynthParams, sampling: SamplingParams, max_tokens: u32, seed: u64) -> GenParams {
    GenParams {
        sampling,
        max_tokens,
        seed,
        threads: params.threads,
        parallel: params.parallel,
        max_samples: params.samples.max(1),
        ctx_per_seq: params.ctx_per_seq,
    }
}

fn keep_going(result: Result<()>, failure: &mut Option<Error>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            *failure = Some(e);
            false
        }
    }
}

fn validate(params: &SynthParams) -> Result<()> {
    if params.samples < 2 || params.threshold == 0 || params.threshold > params.samples {
        return Err(Error::InvalidArgument(format!(
            "majority voting needs at least 2 samples and a threshold in 1..=samples (got {} samples, threshold {})",
            params.samples, params.threshold
        )));
    }
    if params.max_edits == 0 || !(0.0..=1.0).contains(&params.max_changed_fraction) {
        return Err(Error::InvalidArgument("max_edits must be at least 1 and max_changed_fraction in [0, 1]".into()));
    }
    Ok(())
}

/// The prompt's kind: as given in the pool, else detected from the question.
pub fn kind_of(prompt: &PromptRecord) -> QuestionKind {
    match prompt.kind.as_deref() {
        Some("open") => QuestionKind::Open,
        Some("closed") => QuestionKind::Closed,
        _ => QuestionKind::detect(&prompt.question),
    }
}

/// A random source for one prompt's choices, independent of batch and shard.
fn rng_for(params: &SynthParams, id: &str, what: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream_seed(params.seed, &format!("{id}/{what}")))
}

struct Writer<'a> {
    pairs: &'a mut AppendLog,
    skipped: &'a mut AppendLog,
    progress: &'a dyn Progress,
    base_dir: &'a Path,
    out_dir: &'a Path,
}

impl Writer<'_> {
    fn skip(&mut self, prompt: &PromptRecord, kind: QuestionKind, reason: String) -> Result<()> {
        let record = SkippedPrompt { id: prompt.id.clone(), kind, reason };
        self.skipped.append_record(&prompt.id, &record)?;
        self.progress.advance(1);
        Ok(())
    }

    /// The vote's pair or skip; `Some` instead when the vote is unanimous and
    /// [`Unanimous::Resample`] asks for a hotter draw before the pair is made.
    fn closed(&mut self, prompt: &PromptRecord, samples: &[String], params: &SynthParams) -> Result<Option<Agreed>> {
        let mut rng = rng_for(params, &prompt.id, "vote");
        match majority_pair(samples, params.threshold, &mut rng) {
            Ok(vote) => {
                let (chosen, rejected) = (samples[vote.chosen].clone(), samples[vote.rejected].clone());
                let pair = SynthPair {
                    pair: self.pair_record(prompt, chosen, rejected, &mut rng),
                    kind: QuestionKind::Closed,
                    method: "majority".into(),
                    votes: Some((vote.majority_count, samples.len())),
                    edits: Vec::new(),
                };
                self.write(pair).map(|()| None)
            }
            Err(NoPair::Unanimous) if params.unanimous == Unanimous::Inject => {
                self.unanimous(prompt, samples, params).map(|()| None)
            }
            // A unanimous vote always has an agreed answer.
            Err(NoPair::Unanimous) if params.unanimous == Unanimous::Resample => Ok(agreement(samples)),
            Err(no_pair) => self.skip(prompt, QuestionKind::Closed, format!("no pair: {no_pair}")).map(|()| None),
        }
    }

    /// A closed question every sample answered alike: the pair of [`unanimous_pair`].
    fn unanimous(&mut self, prompt: &PromptRecord, samples: &[String], params: &SynthParams) -> Result<()> {
        let mut rng = rng_for(params, &prompt.id, "inject");
        match unanimous_pair(samples, &mut rng) {
            Some((agreed, injected)) => {
                let edits = edit_notes(&injected);
                let pair = SynthPair {
                    pair: self.pair_record(prompt, agreed.answer, injected.text, &mut rng),
                    kind: QuestionKind::Closed,
                    method: "unanimous".into(),
                    votes: Some((agreed.voters, samples.len())),
                    edits,
                };
                self.write(pair)
            }
            None => {
                let reason = format!("no pair: {}, and the answer has no detail to change", NoPair::Unanimous);
                self.skip(prompt, QuestionKind::Closed, reason)
            }
        }
    }

    /// A unanimous closed question against the model's runner-up: the answer that
    /// differs from the agreed one and comes up most often when sampled hotter (its
    /// shortest wording). A one-off is more often a malformed run-on than an answer.
    fn resampled(
        &mut self,
        prompt: &PromptRecord,
        agreed: &Agreed,
        hot: &[String],
        params: &SynthParams,
    ) -> Result<()> {
        let mut rng = rng_for(params, &prompt.id, "resample");
        let Some(rejected) = runner_up(&agreed.answer, hot) else {
            let reason = format!("no pair: {}, and none of {} hotter samples differs", NoPair::Unanimous, hot.len());
            return self.skip(prompt, QuestionKind::Closed, reason);
        };
        let pair = SynthPair {
            pair: self.pair_record(prompt, agreed.answer.clone(), rejected, &mut rng),
            kind: QuestionKind::Closed,
            method: "resampled".into(),
            votes: Some((agreed.voters, params.samples)),
            edits: Vec::new(),
        };
        self.write(pair)
    }

    fn open(
        &mut self,
        prompt: &PromptRecord,
        response: &str,
        rewrite: Option<String>,
        params: &SynthParams,
    ) -> Result<()> {
        let mut rng = rng_for(params, &prompt.id, "inject");
        let mut rejection = None;
        if let Some(rewrite) = rewrite.filter(|r| !r.trim().is_empty()) {
            match check_edit(response, &rewrite, params.max_changed_fraction) {
                Ok(()) => {
                    let pair = SynthPair {
                        pair: self.pair_record(prompt, response.into(), rewrite, &mut rng),
                        kind: QuestionKind::Open,
                        method: "rewrite".into(),
                        votes: None,
                        edits: Vec::new(),
                    };
                    return self.write(pair);
                }
                Err(e) => rejection = Some(format!("the model's rewrite was rejected: {e}")),
            }
        }
        if params.inject == Inject::Model {
            let reason = rejection.unwrap_or_else(|| "the model wrote no rewrite".into());
            return self.skip(prompt, QuestionKind::Open, reason);
        }
        match inject_errors(response, params.max_edits, &mut rng) {
            Some(injected) => {
                let edits = edit_notes(&injected);
                let pair = SynthPair {
                    pair: self.pair_record(prompt, response.into(), injected.text, &mut rng),
                    kind: QuestionKind::Open,
                    method: "rules".into(),
                    votes: None,
                    edits,
                };
                self.write(pair)
            }
            None => {
                let mut reason = "no number, colour, position, size or object to change".to_string();
                if let Some(r) = rejection {
                    reason = format!("{r}; {reason}");
                }
                self.skip(prompt, QuestionKind::Open, reason)
            }
        }
    }

    /// The pair with the preferred response at a random side (labels balanced).
    fn pair_record(&self, prompt: &PromptRecord, better: String, worse: String, rng: &mut ChaCha8Rng) -> PairRecord {
        let better_first = rng.random_bool(0.5);
        let (response_a, response_b) = if better_first { (better, worse) } else { (worse, better) };
        PairRecord {
            id: prompt.id.clone(),
            image: prompt.image.as_deref().and_then(|p| rebase_path(p, self.base_dir, self.out_dir)),
            question: prompt.question.clone(),
            response_a,
            response_b,
            label: Some(if better_first { "A" } else { "B" }.into()),
            category: None,
        }
    }

    fn write(&mut self, mut pair: SynthPair) -> Result<()> {
        pair.pair.category = Some(match pair.kind {
            QuestionKind::Open => "open".into(),
            QuestionKind::Closed => "closed".into(),
        });
        self.pairs.append_record(&pair.pair.id.clone(), &pair)?;
        self.progress.advance(1);
        Ok(())
    }
}

/// The answer all the voting `samples` agree on: its first non-empty wording, and how
/// many samples gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    pub answer: String,
    pub voters: usize,
}

/// The answer every voting sample gives (blank ones do not vote), in its first
/// wording; `None` when no sample votes or two answers differ.
pub fn agreement(samples: &[String]) -> Option<Agreed> {
    let mut voting = samples.iter().filter(|s| !normalize_answer(s).is_empty());
    let answer = voting.next()?.clone();
    let normalized = normalize_answer(&answer);
    let mut voters = 1;
    for other in voting {
        if normalize_answer(other) != normalized {
            return None;
        }
        voters += 1;
    }
    Some(Agreed { answer, voters })
}

/// The most frequent answer among `samples` other than `agreed` (normalised; blank
/// samples do not count), in its shortest wording; ties go to the answer seen first.
pub fn runner_up(agreed: &str, samples: &[String]) -> Option<String> {
    let agreed = normalize_answer(agreed);
    // (normalised answer, count, shortest wording) in first-seen order.
    let mut answers: Vec<(String, usize, &str)> = Vec::new();
    for sample in samples {
        let answer = normalize_answer(sample);
        if answer.is_empty() || answer == agreed {
            continue;
        }
        let wording = sample.trim();
        match answers.iter_mut().find(|(a, _, _)| *a == answer) {
            Some((_, count, shortest)) => {
                *count += 1;
                if wording.chars().count() < shortest.chars().count() {
                    *shortest = wording;
                }
            }
            None => answers.push((answer, 1, wording)),
        }
    }
    let top = answers.iter().map(|&(_, count, _)| count).max()?;
    answers.into_iter().find(|&(_, count, _)| count == top).map(|(_, _, wording)| wording.to_string())
}

/// The answer a unanimous vote agreed on and a copy of it with one detail changed;
/// `None` when no sample voted or the answer has no detail [`inject_errors`] can change.
pub fn unanimous_pair(samples: &[String], rng: &mut impl Rng) -> Option<(Agreed, Injected)> {
    let agreed = agreement(samples)?;
    let injected = inject_errors(&agreed.answer, 1, rng)?;
    Some((agreed, injected))
}

/// The details an injection changed, as the pair records them (`from -> to`).
fn edit_notes(injected: &Injected) -> Vec<String> {
    injected.edits.iter().map(|e| format!("{} -> {}", e.from, e.to)).collect()
}

/// Counts over the shard's prompts from what the output files hold.
fn count(prompts: &[PromptRecord], out: &Path) -> Result<SynthCounts> {
    let ids: std::collections::HashSet<&str> = prompts.iter().map(|p| p.id.as_str()).collect();
    let mut counts = SynthCounts { prompts: prompts.len(), ..SynthCounts::default() };
    for prompt in prompts {
        match kind_of(prompt) {
            QuestionKind::Open => counts.open += 1,
            QuestionKind::Closed => counts.closed += 1,
        }
    }
    for (_, pair) in crate::data::read_jsonl::<SynthPair>(out)? {
        counts.pairs += usize::from(ids.contains(pair.pair.id.as_str()));
    }
    for (_, skip) in crate::data::read_jsonl::<SkippedPrompt>(&skipped_path(out))? {
        if !ids.contains(skip.id.as_str()) {
            continue;
        }
        if skip.reason.starts_with("no pair") {
            counts.no_majority += 1;
        } else if skip.reason.starts_with("generation failed") {
            counts.errors += 1;
        } else {
            counts.rejected_edits += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::EditKind;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn agreeing(answer: &str) -> Vec<String> {
        let mut samples = vec![answer.to_string(); 16];
        samples[0] = String::new(); // an empty sample does not vote
        samples[1] = format!("{}.", answer.to_uppercase()); // the same answer, worded otherwise
        samples
    }

    #[test]
    fn a_unanimous_answer_is_paired_with_one_detail_changed() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for (answer, kind) in [
            ("red", EditKind::Colour),
            ("three", EditKind::Count),
            ("top left", EditKind::Position),
            ("a circle", EditKind::Object),
        ] {
            let samples = agreeing(answer);
            let (agreed, worse) = unanimous_pair(&samples, &mut rng).expect(answer);
            assert_eq!(agreed.answer, samples[1], "the first wording that votes");
            assert_eq!(agreed.voters, 15, "the empty sample does not vote");
            assert_eq!(worse.edits.len(), 1, "{answer}: {:?}", worse.edits);
            assert_eq!(worse.edits[0].kind, kind, "{answer}");
            assert_ne!(normalize_answer(&worse.text), normalize_answer(answer), "{answer} -> {}", worse.text);
        }
    }

    #[test]
    fn agreement_needs_every_voting_sample_to_give_one_answer() {
        let agreed = agreement(&agreeing("red")).expect("all agree");
        assert_eq!((agreed.answer.as_str(), agreed.voters), ("RED.", 15));
        let mut split = agreeing("red");
        split[7] = "blue".into();
        assert_eq!(agreement(&split), None, "one dissent");
        assert_eq!(agreement(&[String::new(), "?".into()]), None, "no voter");
    }

    #[test]
    fn the_runner_up_is_the_most_frequent_other_answer() {
        let hot = strings(&["red", "Blue.", "a run-on answer that goes", "blue", "", "Green", "blue"]);
        assert_eq!(runner_up("Red", &hot).as_deref(), Some("blue"), "three blues, shortest wording");
        let tied = strings(&["green", "red", "blue"]);
        assert_eq!(runner_up("red", &tied).as_deref(), Some("green"), "a tie goes to the first seen");
        assert_eq!(runner_up("red", &strings(&["red", "Red.", " "])), None, "nothing differs");
    }

    #[test]
    fn a_unanimous_answer_without_a_detail_to_change_makes_no_pair() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for answer in ["one", "yes", "the dog is sleeping quietly"] {
            let samples = vec![answer.to_string(); 16];
            let pair = unanimous_pair(&samples, &mut rng);
            if answer.contains("dog") {
                assert!(pair.is_some(), "an object to change");
            } else {
                assert!(pair.is_none(), "{answer}: {pair:?}");
            }
        }
        assert!(unanimous_pair(&[String::new(), " ".into()], &mut rng).is_none(), "no voter");
    }
}
