//! A judge stopped from another thread: through llama.cpp's abort callback a long
//! prompt decode stops part-way, the call returns `Error::Cancelled`, and the judge
//! works as before afterwards.

mod common;

use std::time::Instant;

use vlmjudge::judge::{Judge, JudgeParams, Pair};
use vlmjudge::Error;

/// One pair whose prompt is about 450 tokens, decoded in a single call.
fn long_pair() -> Pair {
    let question = "Describe the picture in detail, counting every object you see. ".repeat(28);
    Pair::text("long", question, "Three red apples on a table.", "Two green pears in a bowl.")
}

fn one_call_params() -> JudgeParams {
    // One thread: ggml's worker threads spin at barriers, which a busy machine turns
    // into long stalls that have nothing to do with cancelling.
    JudgeParams { swap: false, parallel: 1, threads: 1, ctx_per_seq: 512, batch_tokens: 512, ..JudgeParams::default() }
}

#[test]
fn cancel_from_another_thread_stops_a_decode_part_way() {
    let model = common::demo_model();
    let mut judge = Judge::new(model, one_call_params()).unwrap();
    let pair = long_pair();
    let prompt = judge.prompt_tokens(&pair).unwrap().len();
    assert!(prompt > 400, "the prompt should need one long decode call, has {prompt} tokens");

    let start = Instant::now();
    let full = judge.judge_pair(&pair).unwrap();
    let uncancelled = start.elapsed();
    eprintln!("{prompt} prompt tokens judged in {uncancelled:?}");
    assert!(full.error.is_none(), "{:?}", full.error);

    // Without the abort callback the decode call would run to its end (`uncancelled`)
    // before the scheduler could look at the flag.
    let flag = judge.cancel_flag();
    let delay = uncancelled / 5;
    let start = Instant::now();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(delay);
        flag.cancel();
    });
    let result = judge.judge_pair(&pair);
    let cancelled_after = start.elapsed();
    canceller.join().unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "expected Cancelled, got {result:?}");
    assert!(
        cancelled_after < delay + uncancelled / 2,
        "cancelled after {cancelled_after:?}; the whole call takes {uncancelled:?} and the request came at {delay:?}"
    );

    // The request is used up and no half-decoded state is left behind.
    let again = judge.judge_pair(&pair).unwrap();
    assert_eq!(again.p_a, full.p_a);
}

#[test]
fn a_request_between_calls_stops_only_the_next_call() {
    let model = common::demo_model();
    let mut judge = Judge::new(model, JudgeParams { parallel: 2, threads: 1, ..JudgeParams::default() }).unwrap();
    let pairs = common::sample_pairs(3);
    judge.cancel_flag().cancel();
    let mut seen = 0;
    let result = judge.judge_batch(&pairs, |_, _| {
        seen += 1;
        true
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert_eq!(seen, 0, "a cancelled call reports no pair");
    assert!(!judge.cancel_flag().is_cancelled(), "the request is used up");
    let verdicts = common::judge_all(model, JudgeParams::default(), &pairs);
    let mut n = 0;
    judge
        .judge_batch(&pairs, |i, v| {
            assert_eq!(v.p_a, verdicts[i].p_a);
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, pairs.len());
}
