use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use vlmjudge::data::{read_jsonl, read_pairs};
use vlmjudge::judge::{Choice, Verdict};

#[derive(Args)]
pub struct ShowArgs {
    /// A verdicts file written by `vlmjudge judge`.
    verdicts: PathBuf,
    /// The pairs file, to show labels and accuracy.
    #[arg(long)]
    pairs: Option<PathBuf>,
}

pub fn run(args: ShowArgs) -> anyhow::Result<()> {
    let verdicts: Vec<Verdict> = read_jsonl(&args.verdicts)?.into_iter().map(|(_, v)| v).collect();
    let labels: HashMap<String, String> = match &args.pairs {
        Some(p) => read_pairs(p)?.into_iter().filter_map(|r| r.label.map(|l| (r.id, l))).collect(),
        None => HashMap::new(),
    };
    println!("{:<16} {:<7} {:>6} {:<10} {:<6} note", "id", "verdict", "p(A)", "consistent", "label");
    let (mut right, mut labelled) = (0, 0);
    for v in &verdicts {
        let label = labels.get(&v.id).map_or("", String::as_str);
        let verdict = match v.verdict {
            Choice::A => "A",
            Choice::B => "B",
            Choice::Tie => "tie",
            Choice::None => "none",
        };
        if !label.is_empty() && v.error.is_none() {
            labelled += 1;
            right += usize::from(verdict == label);
        }
        println!(
            "{:<16} {:<7} {:>6} {:<10} {:<6} {}",
            truncate(&v.id, 16),
            verdict,
            v.p_a.map_or("-".into(), |p| format!("{p:.3}")),
            v.consistent.map_or("-", |c| if c { "yes" } else { "no" }),
            label,
            v.error.as_deref().map_or(String::new(), |e| format!("error: {e}")),
        );
    }
    if labelled > 0 {
        println!("accuracy: {right}/{labelled} = {:.3}", right as f64 / labelled as f64);
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['~']).collect()
    }
}
