//! Judging throughput side by side with llama-server, in one run: the same pairs, the
//! same prompts, the same model and the same threads.
//!
//! - llama-server (`scripts/build-llama-server.sh`: the llama.cpp release the crate
//!   vendors, built with the same CMake settings) with 8 slots and its prompt cache,
//!   as a user would run it: each order of a pair is one `/completion` request with
//!   `n_predict` 1 and `n_probs` 20; 8 pairs in flight, each sending its two orders one
//!   after the other (so the second reuses the first's prefix in the slot's cache).
//! - vlmjudge: `Judge::judge_batch` in fast mode with swap, 8 pairs in flight.
//!
//! Text pairs: the server gets vlmjudge's exact prompt as token ids. Image pairs (the
//! demo model with a generated 196-token ViT, random weights, so only its cost is
//! real; a distinct image per pair): the server gets the same chat text with its media
//! marker where vlmjudge puts the image, tokenized by itself, and the PNG as base64.
//!
//! For each it prints pairs/s, the prompt tokens each side decoded (the rest came from
//! a cache or a shared prefix), the ratio, and how many per-order verdicts agree (p(A)
//! on the same side of 0.5) with the largest difference in p(A).
//!
//! `make bench-peer`; LLAMA_SERVER (the binary), VLMJUDGE_BENCH_PAIRS (text pairs,
//! default 64; image pairs are half as many), VLMJUDGE_BENCH_THREADS (default: physical
//! cores) and VLMJUDGE_BENCH_BATCH_INVARIANT (default 1; 0 gives vlmjudge llama.cpp's
//! default kernels, as llama-server has) change the run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vlmjudge::engine::{default_threads, Model, ModelParams};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Mode, Order, Pair, Verdict, DEFAULT_SYSTEM, DEFAULT_USER};
use vlmjudge_lab::fixture::{write_mmproj, VisionShape};

const IN_FLIGHT: usize = 8;
const CTX_PER_SEQ: u32 = 1024;
const MEDIA_MARKER: &str = "<__media__>";

fn bench_pairs(n: usize, images: &[PathBuf]) -> Vec<Pair> {
    let things = [("cat", 4), ("spider", 8), ("bird", 2), ("ant", 6), ("horse", 4), ("crab", 10)];
    (0..n)
        .map(|i| {
            let (name, legs) = things[i % things.len()];
            let detail = " It is standing still on the ground, facing left, in bright light.".repeat(1 + i % 3);
            let mut pair = Pair::text(
                format!("p{i}"),
                format!("Look at the picture of the {name} (item {i}). How many legs does it have?"),
                format!("The {name} has {legs} legs.{detail}"),
                format!("The {name} has {} legs.{detail}", legs + 1 + i % 3),
            );
            pair.image = images.get(i).map(|path| ImageSource::Path(path.clone()));
            pair
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

fn start_server(bin: &str, model: &Path, mmproj: Option<&Path>, threads: usize) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ctx = (IN_FLIGHT as u32 * CTX_PER_SEQ).to_string();
    let (np, t) = (IN_FLIGHT.to_string(), threads.to_string());
    let mut command = Command::new(bin);
    command
        .arg("-m")
        .arg(model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "-c", &ctx, "-np", &np])
        .args(["-t", &t, "-tb", &t])
        // The server picks a random media marker unless told one.
        .env("LLAMA_MEDIA_MARKER", MEDIA_MARKER);
    if let Some(mmproj) = mmproj {
        command.arg("--mmproj").arg(mmproj);
    }
    let child = command
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

/// One order of a pair as the server gets it: `prompt` is token ids or an object with
/// the chat text and the image.
fn server_p_shown_a(url: &str, prompt: &Value) -> ServerAnswer {
    let body = json!({"prompt": prompt, "n_predict": 1, "n_probs": 20, "temperature": 0.0, "cache_prompt": true});
    let mut response = ureq::post(format!("{url}/completion"))
        .config()
        .http_status_as_error(false)
        .build()
        .content_type("application/json")
        .send(body.to_string())
        .expect("a completion");
    let text = response.body_mut().read_to_string().expect("the server's reply");
    assert!(response.status().is_success(), "llama-server answered {}: {text}", response.status());
    let reply: Value = serde_json::from_str(&text).expect("JSON from the server");
    let decoded = reply["timings"]["prompt_n"].as_u64().unwrap_or(0);
    let first = &reply["completion_probabilities"][0];
    let Some(top) = first.get("top_logprobs").or_else(|| first.get("probs")).and_then(Value::as_array) else {
        return ServerAnswer { p_shown_a: None, decoded };
    };
    let p = |letter: &str| {
        top.iter().find(|e| e["token"] == letter).map(|e| match e.get("logprob") {
            Some(lp) => lp.as_f64().unwrap().exp(),
            None => e["prob"].as_f64().unwrap(),
        })
    };
    // The probabilities of `A` and `B` among the top 20, renormalised over the two.
    let (a, b) = (p("A").unwrap_or(0.0), p("B").unwrap_or(0.0));
    ServerAnswer { p_shown_a: (a + b > 0.0).then(|| a / (a + b)), decoded }
}

struct ServerAnswer {
    p_shown_a: Option<f64>,
    /// Prompt tokens the server decoded (the rest came from its cache).
    decoded: u64,
}

/// A side's run: its time, the prompt tokens it decoded, and per pair p(original A) of
/// each order (AB, BA).
struct Run {
    time: Duration,
    decoded: u64,
    p_a: Vec<[Option<f64>; 2]>,
}

/// Sends each pair's two orders (`prompts[i]`) one after the other, `IN_FLIGHT` pairs
/// at a time.
fn run_server(server: &Server, prompts: &[[Value; 2]]) -> Run {
    let _ = server_p_shown_a(&server.url, &prompts[0][0]); // warm-up
    let next = AtomicUsize::new(0);
    let decoded = AtomicU64::new(0);
    let results: Mutex<Vec<[Option<f64>; 2]>> = Mutex::new(vec![[None; 2]; prompts.len()]);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..IN_FLIGHT {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= prompts.len() {
                    break;
                }
                let ab = server_p_shown_a(&server.url, &prompts[i][0]);
                let ba = server_p_shown_a(&server.url, &prompts[i][1]);
                decoded.fetch_add(ab.decoded + ba.decoded, Ordering::Relaxed);
                // BA shows the original B first.
                results.lock().unwrap()[i] = [ab.p_shown_a, ba.p_shown_a.map(|p| 1.0 - p)];
            });
        }
    });
    Run { time: started.elapsed(), decoded: decoded.into_inner(), p_a: results.into_inner().unwrap() }
}

fn run_vlmjudge(judge: &mut Judge, pairs: &[Pair]) -> Run {
    judge.judge_pair(&pairs[0]).unwrap(); // warm-up
    let before = judge.stats();
    let mut verdicts: Vec<Option<Verdict>> = vec![None; pairs.len()];
    let started = Instant::now();
    judge
        .judge_batch(pairs, |i, v| {
            verdicts[i] = Some(v);
            true
        })
        .unwrap();
    let time = started.elapsed();
    let after = judge.stats();
    let p_a = verdicts
        .into_iter()
        .map(|v| {
            let v = v.unwrap();
            assert!(v.error.is_none(), "{v:?}");
            let of = |order| v.orders.iter().find(|o| o.order == order).and_then(|o| o.p_a);
            [of(Order::AB), of(Order::BA)]
        })
        .collect();
    let decoded = after.prompt_tokens + after.image_tokens - before.prompt_tokens - before.image_tokens;
    Run { time, decoded, p_a }
}

fn report(what: &str, n: usize, server: &Run, ours: &Run) {
    let rate = |r: &Run| n as f64 / r.time.as_secs_f64();
    let line = |who: &str, r: &Run| {
        println!(
            "  {who:<13} {:>7.2} s  {:>6.2} pairs/s  {:>6} prompt tokens decoded ({:.0}/s)",
            r.time.as_secs_f64(),
            rate(r),
            r.decoded,
            r.decoded as f64 / r.time.as_secs_f64()
        )
    };
    println!("{what}:");
    line("llama-server:", server);
    line("vlmjudge:", ours);
    let (mut agree, mut compared, mut max_diff) = (0, 0, 0f64);
    for (ours, theirs) in ours.p_a.iter().flatten().zip(server.p_a.iter().flatten()) {
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            compared += 1;
            agree += usize::from((ours > &0.5) == (theirs > &0.5));
            max_diff = max_diff.max((ours - theirs).abs());
        }
    }
    println!("  ratio (vlmjudge / llama-server): {:.2}x", rate(ours) / rate(server));
    println!("  per-order verdicts agreeing: {agree} of {compared}; largest p(A) difference {max_diff:.4}");
}

/// The judge prompt of one order as chat text, with the server's media marker where
/// vlmjudge puts the image (before the user text) and the verdict prefix at the end.
fn chat_text(model: &Model, pair: &Pair) -> String {
    let user = DEFAULT_USER
        .replace("{question}", &pair.question)
        .replace("{answer_a}", &pair.response_a)
        .replace("{answer_b}", &pair.response_b);
    let user = format!("{MEDIA_MARKER}{user}");
    model.chat_prompt(&[("system", DEFAULT_SYSTEM), ("user", &user)], None, true).unwrap() + "[["
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            let c = if k <= chunk.len() { ALPHABET[(n >> (18 - 6 * k) & 63) as usize] } else { b'=' };
            out.push(c as char);
        }
    }
    out
}

fn main() {
    let n: usize = std::env::var("VLMJUDGE_BENCH_PAIRS").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    let threads: usize =
        std::env::var("VLMJUDGE_BENCH_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or_else(default_threads);
    let server_bin = std::env::var("LLAMA_SERVER").expect("LLAMA_SERVER: the llama-server binary (make bench-peer)");
    let model_path = vlmjudge::demo_model_path();
    let batch_invariant = std::env::var("VLMJUDGE_BENCH_BATCH_INVARIANT").map_or(true, |v| v != "0");
    let model_params = ModelParams { batch_invariant, ..ModelParams::default() };
    let params = JudgeParams {
        mode: Mode::Fast,
        swap: true,
        parallel: IN_FLIGHT,
        threads,
        ctx_per_seq: CTX_PER_SEQ,
        ..JudgeParams::default()
    };
    println!(
        "{}, {IN_FLIGHT} pairs in flight, {threads} threads, vlmjudge batch-invariant {batch_invariant}",
        model_path.display()
    );

    // Text pairs: the server gets vlmjudge's exact token ids.
    let model = Model::load(&model_path, None, &model_params).expect("the demo model loads");
    let pairs = bench_pairs(n, &[]);
    let mut judge = Judge::new(&model, params.clone()).expect("a judge");
    // BA is the swapped pair's AB.
    let prompts: Vec<[Value; 2]> = pairs
        .iter()
        .map(|p| {
            let ids = |p: &Pair| json!(judge.prompt_tokens(p).unwrap().iter().map(|t| t.0).collect::<Vec<_>>());
            [ids(p), ids(&swapped(p))]
        })
        .collect();
    let server = run_server(&start_server(&server_bin, &model_path, None, threads), &prompts);
    let ours = run_vlmjudge(&mut judge, &pairs);
    report(&format!("{n} text pairs"), n, &server, &ours);
    drop(judge);
    drop(model);

    // Image pairs: a distinct image each, in the prefix both orders share.
    let n_images = n.div_ceil(2);
    let dir = tempfile::tempdir().unwrap();
    let mmproj = dir.path().join("vit.gguf");
    write_mmproj(&mmproj, &VisionShape::vit_224(576), 1).unwrap();
    let images = common::write_gradient_pngs(dir.path(), n_images, 224);
    let model = Model::load(&model_path, Some(&mmproj), &model_params).expect("the demo model loads with the ViT");
    let pairs = bench_pairs(n_images, &images);
    let prompts: Vec<[Value; 2]> = pairs
        .iter()
        .zip(&images)
        .map(|(p, image)| {
            let data = base64(&std::fs::read(image).unwrap());
            let order = |p: &Pair| json!({"prompt_string": chat_text(&model, p), "multimodal_data": [data]});
            [order(p), order(&swapped(p))]
        })
        .collect();
    let server = run_server(&start_server(&server_bin, &model_path, Some(&mmproj), threads), &prompts);
    let mut judge = Judge::new(&model, params).expect("a judge");
    let ours = run_vlmjudge(&mut judge, &pairs);
    report(&format!("{n_images} image pairs (196 image tokens each)"), n_images, &server, &ours);
}
