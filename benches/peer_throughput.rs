//! Judging throughput side by side with llama-server, in one run: the same text pairs,
//! the same prompt tokens, the same model and the same threads.
//!
//! - llama-server (`scripts/build-llama-server.sh`: the llama.cpp release the crate
//!   vendors, built with the same CMake settings) with 8 slots and its prompt cache,
//!   as a user would run it: each order of a pair is one `/completion` request with
//!   vlmjudge's exact prompt as token ids, `n_predict` 1 and `n_probs` 20; 8 pairs in
//!   flight, each sending its two orders one after the other (so the second reuses the
//!   first's prefix in the slot's cache).
//! - vlmjudge: `Judge::judge_batch` in fast mode with swap, 8 pairs in flight.
//!
//! It prints pairs/s of each, the ratio, and how many per-order verdicts agree (p(A)
//! on the same side of 0.5) with the largest difference in p(A).
//!
//! `make bench-peer`; LLAMA_SERVER (the binary), VLMJUDGE_BENCH_PAIRS (default 64),
//! VLMJUDGE_BENCH_THREADS (default: physical cores) and VLMJUDGE_BENCH_BATCH_INVARIANT
//! (default 1; 0 gives vlmjudge llama.cpp's default kernels, as llama-server has)
//! change the run.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use llama_cpp_2::token::LlamaToken;
use serde_json::{json, Value};
use vlmjudge::engine::{default_threads, Model, ModelParams};
use vlmjudge::judge::{Judge, JudgeParams, Mode, Order, Pair, Verdict};

const IN_FLIGHT: usize = 8;
const CTX_PER_SEQ: u32 = 1024;

fn bench_pairs(n: usize) -> Vec<Pair> {
    let things = [("cat", 4), ("spider", 8), ("bird", 2), ("ant", 6), ("horse", 4), ("crab", 10)];
    (0..n)
        .map(|i| {
            let (name, legs) = things[i % things.len()];
            let detail = " It is standing still on the ground, facing left, in bright light.".repeat(1 + i % 3);
            Pair::text(
                format!("p{i}"),
                format!("Look at the picture of the {name} (item {i}). How many legs does it have?"),
                format!("The {name} has {legs} legs.{detail}"),
                format!("The {name} has {} legs.{detail}", legs + 1 + i % 3),
            )
        })
        .collect()
}

fn swapped(p: &Pair) -> Pair {
    Pair { response_a: p.response_b.clone(), response_b: p.response_a.clone(), ..p.clone() }
}

/// llama-server on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &str, model: &str, threads: usize) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ctx = (IN_FLIGHT as u32 * CTX_PER_SEQ).to_string();
    let (np, t) = (IN_FLIGHT.to_string(), threads.to_string());
    let child = Command::new(bin)
        .args(["-m", model, "--host", "127.0.0.1", "--port", &port.to_string(), "-c", &ctx, "-np", &np])
        .args(["-t", &t, "-tb", &t])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (set LLAMA_SERVER, or run make bench-peer)"));
    let server = Server { child, url: format!("http://127.0.0.1:{port}") };
    let started = Instant::now();
    while ureq::get(format!("{}/health", server.url)).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "llama-server did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

/// p(shown A) after `tokens`: the server's probabilities of the tokens `A` and `B`
/// among its top 20, renormalised over the two.
fn server_p_shown_a(url: &str, tokens: &[LlamaToken]) -> Option<f64> {
    let body = json!({
        "prompt": tokens.iter().map(|t| t.0).collect::<Vec<_>>(),
        "n_predict": 1, "n_probs": 20, "temperature": 0.0, "cache_prompt": true,
    });
    let mut response = ureq::post(format!("{url}/completion"))
        .content_type("application/json")
        .send(body.to_string())
        .expect("a completion");
    let text = response.body_mut().read_to_string().expect("the server's reply");
    let reply: Value = serde_json::from_str(&text).expect("JSON from the server");
    let first = &reply["completion_probabilities"][0];
    let top = first.get("top_logprobs").or_else(|| first.get("probs"))?.as_array()?;
    let p = |letter: &str| {
        top.iter().find(|e| e["token"] == letter).map(|e| match e.get("logprob") {
            Some(lp) => lp.as_f64().unwrap().exp(),
            None => e["prob"].as_f64().unwrap(),
        })
    };
    let (a, b) = (p("A").unwrap_or(0.0), p("B").unwrap_or(0.0));
    (a + b > 0.0).then(|| a / (a + b))
}

fn main() {
    let n: usize = std::env::var("VLMJUDGE_BENCH_PAIRS").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    let threads: usize =
        std::env::var("VLMJUDGE_BENCH_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or_else(default_threads);
    let server_bin = std::env::var("LLAMA_SERVER").expect("LLAMA_SERVER: the llama-server binary (make bench-peer)");
    let model_path = vlmjudge::demo_model_path();
    let batch_invariant = std::env::var("VLMJUDGE_BENCH_BATCH_INVARIANT").map_or(true, |v| v != "0");
    let model_params = ModelParams { batch_invariant, ..ModelParams::default() };
    let model = Model::load(&model_path, None, &model_params).expect("the demo model loads");
    let params = JudgeParams {
        mode: Mode::Fast,
        swap: true,
        parallel: IN_FLIGHT,
        threads,
        ctx_per_seq: CTX_PER_SEQ,
        ..JudgeParams::default()
    };
    let pairs = bench_pairs(n);
    let mut judge = Judge::new(&model, params).expect("a judge");
    // Each order's prompt exactly as vlmjudge decodes it (BA is the swapped pair's AB).
    let prompts: Vec<[Vec<LlamaToken>; 2]> =
        pairs.iter().map(|p| [judge.prompt_tokens(p).unwrap(), judge.prompt_tokens(&swapped(p)).unwrap()]).collect();
    let prompt_tokens: usize = prompts.iter().map(|[a, b]| a.len() + b.len()).sum();
    println!(
        "{n} text pairs ({prompt_tokens} prompt tokens over both orders), {IN_FLIGHT} in flight, {threads} threads, \
         vlmjudge batch-invariant {batch_invariant}, {}",
        model_path.display()
    );

    let server = start_server(&server_bin, &model_path.to_string_lossy(), threads);
    server_p_shown_a(&server.url, &prompts[0][0]); // warm-up
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<[Option<f64>; 2]>>> = Mutex::new(vec![None; n]);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..IN_FLIGHT {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let ab = server_p_shown_a(&server.url, &prompts[i][0]);
                let ba = server_p_shown_a(&server.url, &prompts[i][1]);
                results.lock().unwrap()[i] = Some([ab, ba]);
            });
        }
    });
    let server_time = started.elapsed();
    drop(server);
    let server_p: Vec<[Option<f64>; 2]> = results.into_inner().unwrap().into_iter().map(Option::unwrap).collect();

    judge.judge_pair(&pairs[0]).unwrap(); // warm-up
    let mut verdicts: Vec<Option<Verdict>> = vec![None; n];
    let started = Instant::now();
    judge
        .judge_batch(&pairs, |i, v| {
            verdicts[i] = Some(v);
            true
        })
        .unwrap();
    let ours_time = started.elapsed();

    // Per order, p(original A): the server's p(shown A) in AB, 1 - it in BA.
    let (mut agree, mut compared, mut max_diff) = (0, 0, 0f64);
    for (v, [ab, ba]) in verdicts.iter().map(Option::as_ref).map(Option::unwrap).zip(&server_p) {
        for o in &v.orders {
            let theirs = match o.order {
                Order::AB => *ab,
                Order::BA => ba.map(|p| 1.0 - p),
            };
            if let (Some(ours), Some(theirs)) = (o.p_a, theirs) {
                compared += 1;
                agree += usize::from((ours > 0.5) == (theirs > 0.5));
                max_diff = max_diff.max((ours - theirs).abs());
            }
        }
    }
    let rate = |t: Duration| n as f64 / t.as_secs_f64();
    println!("llama-server: {:>7.2} s  {:>6.2} pairs/s", server_time.as_secs_f64(), rate(server_time));
    println!("vlmjudge:     {:>7.2} s  {:>6.2} pairs/s", ours_time.as_secs_f64(), rate(ours_time));
    println!("ratio (vlmjudge / llama-server): {:.2}x", rate(ours_time) / rate(server_time));
    println!("per-order verdicts agreeing: {agree} of {compared}; largest p(A) difference {max_diff:.4}");
}
