//! The judge on the real SmolLM2-135M-Instruct model.

mod common;

use common::{demo_model, sample_pairs};
use vlmjudge::judge::{Choice, ImageSource, Judge, JudgeParams, Mode, Order, Pair, Verdict};

fn params(mode: Mode) -> JudgeParams {
    JudgeParams { mode, max_tokens: 24, ctx_per_seq: 256, ..JudgeParams::default() }
}

fn judge_all(params: JudgeParams, pairs: &[Pair]) -> Vec<Verdict> {
    common::judge_all(demo_model(), params, pairs)
}

fn assert_valid(v: &Verdict) {
    assert_eq!(v.error, None, "{v:?}");
    let p = v.p_a.expect("p_a present");
    assert!((0.0..=1.0).contains(&p), "p_a {p}");
    assert!(matches!(v.verdict, Choice::A | Choice::B | Choice::Tie));
    assert_eq!(v.verdict, Choice::from_p_a(p));
    assert_eq!(v.orders.len(), 2);
    assert!(v.tokens.prompt > 0);
}

#[test]
fn fast_mode_gives_a_verdict_and_probability_without_generating() {
    let v = &judge_all(params(Mode::Fast), &sample_pairs(1))[0];
    assert_valid(v);
    assert_eq!(v.tokens.generated, 0);
    assert!(v.orders.iter().all(|o| o.reasoning.is_none()));
}

#[test]
fn reason_mode_gives_reasoning_a_verdict_and_probability() {
    let v = &judge_all(params(Mode::Reason), &sample_pairs(1))[0];
    assert_valid(v);
    assert!(v.tokens.generated > 0);
    for o in &v.orders {
        let reasoning = o.reasoning.as_deref().expect("reasoning present");
        assert!(!reasoning.trim().is_empty());
        // Either the judge wrote a verdict, or it is marked as forced: never a silent guess.
        let written = reasoning.contains("[[A") || reasoning.contains("[[B");
        assert!(written || o.forced, "{o:?}");
    }
}

#[test]
fn greedy_results_are_identical_across_runs() {
    let pairs = sample_pairs(3);
    for mode in [Mode::Fast, Mode::Reason] {
        let first = judge_all(params(mode), &pairs);
        let second = judge_all(params(mode), &pairs);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.p_a, b.p_a);
            assert_eq!(a.verdict, b.verdict);
            let text = |v: &Verdict| v.orders.iter().map(|o| o.reasoning.clone()).collect::<Vec<_>>();
            assert_eq!(text(a), text(b));
        }
    }
}

fn assert_same_alone_and_in_batch(mode: Mode) {
    let pairs = sample_pairs(16);
    let batch = judge_all(JudgeParams { parallel: 16, ..params(mode) }, &pairs);
    for (i, pair) in pairs.iter().enumerate().step_by(5) {
        let alone = &judge_all(JudgeParams { parallel: 1, ..params(mode) }, std::slice::from_ref(pair))[0];
        let in_batch = &batch[i];
        let (pa, pb) = (alone.p_a.unwrap(), in_batch.p_a.unwrap());
        assert!((pa - pb).abs() < 1e-3, "{mode:?} pair {i}: alone {pa} vs batch {pb}");
        assert_eq!(alone.verdict, in_batch.verdict, "{mode:?} pair {i}");
    }
}

#[test]
fn fast_mode_gives_a_pair_the_same_result_alone_and_in_a_batch_of_16() {
    assert_same_alone_and_in_batch(Mode::Fast);
}

#[test]
fn reason_mode_gives_a_pair_the_same_result_alone_and_in_a_batch_of_16() {
    assert_same_alone_and_in_batch(Mode::Reason);
}

#[test]
fn swap_combination_is_the_mean_of_both_orders_with_ba_mapped_back() {
    let pair = sample_pairs(1).remove(0);
    let swapped = Pair { response_a: pair.response_b.clone(), response_b: pair.response_a.clone(), ..pair.clone() };
    let both = &judge_all(params(Mode::Fast), std::slice::from_ref(&pair))[0];
    let no_swap = JudgeParams { swap: false, ..params(Mode::Fast) };
    let ab = &judge_all(no_swap.clone(), std::slice::from_ref(&pair))[0];
    let ba = &judge_all(no_swap, std::slice::from_ref(&swapped))[0];
    assert_eq!(ab.orders.len(), 1);
    assert_eq!(ab.consistent, None);

    let p_ab = ab.p_a.unwrap();
    // Judging (b, a) alone gives p(shown first = original b); original a is shown second.
    let p_ba = 1.0 - ba.p_a.unwrap();
    // The swap judge decodes a shared prefix once and copies it; it must match judging
    // each order from scratch.
    assert_eq!(both.orders[0].order, Order::AB);
    assert_eq!(both.orders[1].order, Order::BA);
    assert!((both.orders[0].p_a.unwrap() - p_ab).abs() < 1e-3);
    assert!((both.orders[1].p_a.unwrap() - p_ba).abs() < 1e-3);
    let expected = (both.orders[0].p_a.unwrap() + both.orders[1].p_a.unwrap()) / 2.0;
    assert!((both.p_a.unwrap() - expected).abs() < 1e-12);
    let agree = both.orders[0].verdict == both.orders[1].verdict;
    assert_eq!(both.consistent, Some(agree));
}

#[test]
fn bad_pairs_get_their_own_error_and_the_batch_goes_on() {
    let good = sample_pairs(2);
    let mut pairs = vec![good[0].clone()];
    pairs.push(Pair { id: "empty".into(), response_b: "   ".into(), ..good[0].clone() });
    pairs.push(Pair { id: "long".into(), question: "Why? ".repeat(2000), ..good[0].clone() });
    pairs.push(Pair {
        id: "missing-image".into(),
        image: Some(ImageSource::Path("/nonexistent/cat.png".into())),
        ..good[0].clone()
    });
    pairs.push(Pair {
        id: "image-without-mmproj".into(),
        image: Some(ImageSource::Bytes(vec![0x89, b'P', b'N', b'G'].into())),
        ..good[0].clone()
    });
    pairs.push(good[1].clone());
    let out = judge_all(params(Mode::Fast), &pairs);
    assert_valid(&out[0]);
    assert_valid(&out[5]);
    let error = |i: usize| out[i].error.clone().unwrap_or_default();
    assert!(error(1).contains("response_b is empty"), "{}", error(1));
    assert!(error(2).contains("too long for the context"), "{}", error(2));
    assert!(error(3).contains("image not found"), "{}", error(3));
    assert!(error(4).contains("no mmproj"), "{}", error(4));
    for v in &out[1..5] {
        assert_eq!(v.verdict, Choice::None);
        assert_eq!(v.p_a, None);
    }
}

#[test]
fn cancelling_from_the_callback_stops_the_batch() {
    let pairs = sample_pairs(12);
    let mut judge = Judge::new(demo_model(), JudgeParams { parallel: 2, ..params(Mode::Fast) }).unwrap();
    let mut seen = 0;
    let result = judge.judge_batch(&pairs, |_, _| {
        seen += 1;
        seen < 3
    });
    assert!(matches!(result, Err(vlmjudge::Error::Cancelled)));
    assert_eq!(seen, 3);
    // The session is still usable afterwards.
    assert_valid(&judge.judge_pair(&pairs[0]).unwrap());
}

/// p(A) of each pair, bit for bit.
fn p_bits(verdicts: &[Verdict]) -> Vec<u64> {
    verdicts.iter().map(|v| v.p_a.expect("p_a present").to_bits()).collect()
}

#[test]
fn fast_mode_is_bit_identical_alone_and_in_a_batch_even_on_default_kernels() {
    // Fast mode decodes every prompt segment in a call of its own, so its results do
    // not depend on the batch whatever kernels llama.cpp picks (the README's contract).
    let model = vlmjudge::engine::Model::load(
        common::demo_model_path(),
        None,
        &vlmjudge::engine::ModelParams { batch_invariant: false, ..Default::default() },
    )
    .unwrap();
    let pairs = sample_pairs(16);
    let batch = common::judge_all(&model, JudgeParams { parallel: 16, ..params(Mode::Fast) }, &pairs);
    let alone: Vec<Verdict> = pairs
        .iter()
        .map(|p| common::judge_all(&model, JudgeParams { parallel: 1, ..params(Mode::Fast) }, std::slice::from_ref(p)))
        .map(|mut v| v.remove(0))
        .collect();
    assert_eq!(p_bits(&batch), p_bits(&alone));
}

#[test]
fn the_prompt_head_is_decoded_once_per_judge_and_survives_a_cancelled_call() {
    let pairs = sample_pairs(4);
    let mut judge = Judge::new(demo_model(), params(Mode::Fast)).unwrap();
    let decoded = |judge: &mut Judge, pairs: &[Pair]| {
        let before = judge.stats().prompt_tokens;
        let mut verdicts = vec![None; pairs.len()];
        judge
            .judge_batch(pairs, |i, v| {
                verdicts[i] = Some(v);
                true
            })
            .unwrap();
        let verdicts: Vec<Verdict> = verdicts.into_iter().map(Option::unwrap).collect();
        (judge.stats().prompt_tokens - before, verdicts)
    };
    let (first, first_verdicts) = decoded(&mut judge, &pairs);
    let (second, second_verdicts) = decoded(&mut judge, &pairs);
    // The second call finds the head decoded: it decodes the head's tokens fewer, and
    // gets the same results bit for bit.
    let whole_prompts: u64 = first_verdicts.iter().map(|v| u64::from(v.tokens.prompt)).sum();
    assert!(second < first && first < whole_prompts, "first {first}, second {second}, prompts {whole_prompts}");
    assert_eq!(p_bits(&first_verdicts), p_bits(&second_verdicts));
    // Each AB order agrees, to within rounding, with its whole prompt decoded from
    // scratch in one plain llama.cpp call.
    for (pair, kept) in pairs.iter().zip(&first_verdicts) {
        let ab = kept.orders.iter().find(|o| o.order == Order::AB).unwrap().p_a.unwrap();
        let scratch = p_first_from_scratch(&judge.prompt_tokens(pair).unwrap());
        assert!((ab - scratch).abs() < 1e-3, "{}: head kept {ab}, from scratch {scratch}", pair.id);
    }
    // A cancelled call drops the head; the next call decodes it again and agrees.
    judge.cancel_flag().cancel();
    assert!(matches!(judge.judge_batch(&pairs, |_, _| true), Err(vlmjudge::Error::Cancelled)));
    let (third, third_verdicts) = decoded(&mut judge, &pairs);
    assert_eq!(third, first);
    assert_eq!(p_bits(&first_verdicts), p_bits(&third_verdicts));
}

/// p(shown A) after `tokens` decoded in one call on a fresh llama.cpp context.
fn p_first_from_scratch(tokens: &[llama_cpp_2::token::LlamaToken]) -> f64 {
    use std::num::NonZeroU32;
    let model = demo_model();
    let n = tokens.len() as u32;
    let params = model.base_context_params().with_n_ctx(NonZeroU32::new(n)).with_n_batch(n).with_n_ubatch(n);
    let mut ctx = model.llama_model().new_context(vlmjudge::engine::backend().unwrap(), params).unwrap();
    let mut batch = llama_cpp_2::llama_batch::LlamaBatch::new(tokens.len(), 1);
    batch.add_sequence(tokens, 0, false).unwrap();
    ctx.decode(&mut batch).unwrap();
    let logits = ctx.get_logits_ith(batch.n_tokens() - 1);
    let letter = |text: &str| *model.tokenize(text, false).last().unwrap();
    let (a, b) = (logits[letter("[[A").0 as usize], logits[letter("[[B").0 as usize]);
    1.0 / (1.0 + f64::from(b - a).exp())
}
