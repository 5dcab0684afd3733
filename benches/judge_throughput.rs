//! Judge throughput on the demo model, as ratios against baselines run in this process.
//!
//! (a) fast mode with swap (shared prefix, 16 pairs in flight) vs a naive judge that
//!     decodes each order as an independent prompt, one pair at a time;
//! (b) reason mode with 16 pairs in flight vs one pair at a time;
//! (c) the judge's prefill and decode tokens/s vs a raw llama.cpp loop on the same
//!     prompts and threads.
//!
//! Run with `make bench` (or `cargo bench --bench judge_throughput`); set
//! VLMJUDGE_BENCH_PAIRS to change the pair count (default 64).

use std::time::{Duration, Instant};

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use vlmjudge::engine::{backend, default_threads, Model, ModelParams};
use vlmjudge::judge::{Judge, JudgeParams, Mode, Pair, Verdict};

fn bench_pairs(n: usize) -> Vec<Pair> {
    let things = [("cat", 4), ("spider", 8), ("bird", 2), ("ant", 6), ("horse", 4), ("crab", 10)];
    (0..n)
        .map(|i| {
            let (name, legs) = things[i % things.len()];
            Pair::text(
                format!("b{i}"),
                format!(
                    "Look at the picture of the {name} (item {i}). How many legs does it have, and what is it doing?"
                ),
                format!(
                    "The {name} has {legs} legs. It is standing still on the ground, facing left, in bright light."
                ),
                format!(
                    "The {name} has {} legs. It is standing still on the ground, facing left, in bright light.",
                    legs + 1 + i % 3
                ),
            )
        })
        .collect()
}

fn run<'m>(model: &'m Model, params: JudgeParams, pairs: &[Pair]) -> (Duration, Vec<Verdict>, Judge<'m>) {
    let mut judge = Judge::new(model, params).expect("judge");
    let mut out = vec![None; pairs.len()];
    let started = Instant::now();
    judge
        .judge_batch(pairs, |i, v| {
            assert!(v.error.is_none(), "{v:?}");
            out[i] = Some(v);
            true
        })
        .expect("batch");
    (started.elapsed(), out.into_iter().map(Option::unwrap).collect(), judge)
}

fn swapped(p: &Pair) -> Pair {
    Pair { response_a: p.response_b.clone(), response_b: p.response_a.clone(), ..p.clone() }
}

fn main() {
    let n: usize = std::env::var("VLMJUDGE_BENCH_PAIRS").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    let threads = default_threads();
    // VLMJUDGE_BENCH_FAST_KERNELS=1: llama.cpp's AMX/repacked kernels and flash
    // attention (ModelParams::batch_invariant off).
    let fast_kernels = std::env::var("VLMJUDGE_BENCH_FAST_KERNELS").is_ok_and(|v| v == "1");
    let model_params = ModelParams { batch_invariant: !fast_kernels, ..ModelParams::default() };
    let model = Model::load(vlmjudge::demo_model_path(), None, &model_params).expect("demo model (run `make model`)");
    let pairs = bench_pairs(n);
    let base = JudgeParams { threads, ctx_per_seq: 1024, max_tokens: 48, ..JudgeParams::default() };
    println!("vlmjudge judge throughput: {n} pairs, SmolLM2-135M Q4_1, {threads} threads");

    // (a) fast + swap, batched, vs each order as its own prompt, one pair at a time.
    let fast = JudgeParams { mode: Mode::Fast, parallel: 16, ..base.clone() };
    let (t_fast, _, _) = run(&model, fast, &pairs);
    let naive = JudgeParams { mode: Mode::Fast, swap: false, parallel: 1, ..base.clone() };
    let both_orders: Vec<Pair> = pairs.iter().flat_map(|p| [p.clone(), swapped(p)]).collect();
    let (t_naive, _, _) = run(&model, naive, &both_orders);
    println!(
        "(a) fast+swap: {:.1} pairs/s batched vs {:.1} pairs/s naive -> {:.2}x",
        n as f64 / t_fast.as_secs_f64(),
        n as f64 / t_naive.as_secs_f64(),
        t_naive.as_secs_f64() / t_fast.as_secs_f64()
    );

    // (b) reason mode: 16 pairs in flight vs one at a time.
    let reason = |parallel| JudgeParams { mode: Mode::Reason, parallel, ..base.clone() };
    let (t16, v16, j16) = run(&model, reason(16), &pairs);
    let (t1, _, j1) = run(&model, reason(1), &pairs);
    let gen: u32 = v16.iter().map(|v| v.tokens.generated).sum();
    let gen_rate = |j: &Judge<'_>| j.stats().generated_tokens as f64 / j.stats().generation_time.as_secs_f64();
    println!(
        "(b) reason: {:.2} pairs/s with 16 in flight vs {:.2} pairs/s one at a time -> {:.2}x ({gen} tokens generated)",
        n as f64 / t16.as_secs_f64(),
        n as f64 / t1.as_secs_f64(),
        t1.as_secs_f64() / t16.as_secs_f64()
    );
    println!(
        "    generation steps alone: {:.0} tok/s with 16 in flight vs {:.0} tok/s one at a time -> {:.2}x",
        gen_rate(&j16),
        gen_rate(&j1),
        gen_rate(&j16) / gen_rate(&j1)
    );

    // (c) prefill (fast mode, one order, one pair at a time) and decode (reason mode
    // generation steps) vs a raw llama.cpp loop over the same tokens.
    let single = JudgeParams { swap: false, parallel: 1, ..base.clone() };
    let (_, _, prefill_judge) = run(&model, JudgeParams { mode: Mode::Fast, ..single.clone() }, &pairs);
    let (_, verdicts, decode_judge) = run(&model, JudgeParams { mode: Mode::Reason, ..single.clone() }, &pairs);
    let prompts: Vec<Vec<LlamaToken>> = pairs.iter().map(|p| prefill_judge.prompt_tokens(p).unwrap()).collect();
    let counts: Vec<u32> = verdicts.iter().map(|v| v.tokens.generated).collect();
    let (raw_prefill, raw_decode) = raw_loop(&model, &prompts, &counts, threads);
    let ps = prefill_judge.stats();
    let ds = decode_judge.stats();
    let judge_prefill = ps.prompt_tokens as f64 / ps.prompt_time.as_secs_f64();
    let judge_decode = ds.generated_tokens as f64 / ds.generation_time.as_secs_f64();
    println!(
        "(c) prefill: judge {judge_prefill:.0} tok/s vs raw llama.cpp {raw_prefill:.0} tok/s -> {:.3}",
        judge_prefill / raw_prefill
    );
    println!(
        "    decode:  judge {judge_decode:.1} tok/s vs raw llama.cpp {raw_decode:.1} tok/s -> {:.3}",
        judge_decode / raw_decode
    );
}

/// Plain llama.cpp: per prompt, clear the cache, decode the prompt in one batch, then
/// greedily decode `count` tokens one at a time. Returns (prefill, decode) tokens/s.
fn raw_loop(model: &Model, prompts: &[Vec<LlamaToken>], counts: &[u32], threads: usize) -> (f64, f64) {
    let llama = model.llama_model();
    // The same base settings as the judge's contexts (flash attention policy included).
    let params = model
        .base_context_params()
        .with_n_ctx(std::num::NonZeroU32::new(1024))
        .with_n_batch(1024)
        .with_n_ubatch(512)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    let mut ctx = llama.new_context(backend().unwrap(), params).unwrap();
    let mut batch = LlamaBatch::new(1024, 1);
    let (mut prefill_time, mut decode_time) = (Duration::ZERO, Duration::ZERO);
    let (mut prefill_tokens, mut decode_tokens) = (0u64, 0u64);
    for (prompt, &count) in prompts.iter().zip(counts) {
        ctx.clear_kv_cache();
        let started = Instant::now();
        batch.clear();
        for (i, &t) in prompt.iter().enumerate() {
            batch.add(t, i as i32, &[0], i + 1 == prompt.len()).unwrap();
        }
        ctx.decode(&mut batch).unwrap();
        let mut last = batch.n_tokens() - 1;
        prefill_time += started.elapsed();
        prefill_tokens += prompt.len() as u64;
        let started = Instant::now();
        for step in 0..count {
            let logits = ctx.get_logits_ith(last);
            let best = (0..logits.len()).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
            batch.clear();
            batch.add(LlamaToken(best as i32), prompt.len() as i32 + step as i32, &[0], true).unwrap();
            ctx.decode(&mut batch).unwrap();
            last = 0;
        }
        decode_time += started.elapsed();
        decode_tokens += u64::from(count);
    }
    (prefill_tokens as f64 / prefill_time.as_secs_f64(), decode_tokens as f64 / decode_time.as_secs_f64())
}
