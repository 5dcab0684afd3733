//! Judge the demo pair from Rust: `cargo run --release --example judge -- MODEL.gguf`.

use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::{Judge, JudgeParams, Pair};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("VLMJUDGE_DEMO_MODEL").ok())
        .ok_or("usage: judge MODEL.gguf")?;
    let model = Model::load(&path, None, &ModelParams::default())?;
    let mut judge = Judge::new(&model, JudgeParams::default())?;
    let pair = Pair::text("demo", "How many legs does a cat have?", "A cat has four legs.", "A cat has seven legs.");
    let v = judge.judge_pair(&pair)?;
    if let Some(error) = &v.error {
        return Err(error.clone().into());
    }
    println!("verdict: {:?}  p(A better) = {:.3}", v.verdict, v.p_a.unwrap_or(f64::NAN));
    for order in &v.orders {
        println!("  order {:?}: {:?}  p(A) = {:.3}", order.order, order.verdict, order.p_a.unwrap_or(f64::NAN));
    }
    Ok(())
}
