//! Verdict types and the swap-debiasing combination.

use serde::{Deserialize, Serialize};

/// Which response a judge prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Choice {
    A,
    B,
    /// Both orders together are exactly undecided (p_a = 0.5), or, with reasoning,
    /// the two orders chose different responses.
    #[serde(rename = "tie")]
    Tie,
    /// No verdict: the judge wrote none, or the pair failed (see `error`).
    #[serde(rename = "none")]
    None,
}

impl Choice {
    /// The choice implied by a probability that A is better.
    pub fn from_p_a(p_a: f64) -> Choice {
        if p_a > 0.5 {
            Choice::A
        } else if p_a < 0.5 {
            Choice::B
        } else {
            Choice::Tie
        }
    }

    /// The same answer seen from the other presentation order (A shown second is "B").
    pub fn swapped(self) -> Choice {
        match self {
            Choice::A => Choice::B,
            Choice::B => Choice::A,
            other => other,
        }
    }
}

/// The order in which the two responses were shown to the judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// response_a shown as Answer A.
    AB,
    /// response_b shown as Answer A (swapped).
    BA,
}

/// The judge's result for one presentation order, mapped back to the original labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderVerdict {
    pub order: Order,
    /// The verdict for this order, in terms of the original response_a / response_b.
    pub verdict: Choice,
    /// Probability that the original response_a is better, from the logits of the two
    /// letters at the verdict position; `None` if the judge never reached a verdict.
    pub p_a: Option<f64>,
    /// Reason mode: the judge wrote no verdict, so `[[` was appended after its
    /// reasoning and `p_a`/`verdict` come from the logits there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// The generated reasoning (reason mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

/// Token counts for one pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Prompt tokens decoded (a shared prefix counts once).
    pub prompt: u32,
    /// Tokens generated, all orders together.
    pub generated: u32,
}

/// The result for one pair: one JSON line of the verdicts file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub id: String,
    pub verdict: Choice,
    /// Probability that response_a is better, averaged over the orders judged.
    pub p_a: Option<f64>,
    /// Whether both orders picked the same response (`None` without swap).
    pub consistent: Option<bool>,
    pub orders: Vec<OrderVerdict>,
    pub tokens: TokenCounts,
    /// Wall time from when the pair entered the batch until its verdict, in ms.
    pub ms: f64,
    pub error: Option<String>,
}

impl Verdict {
    /// A verdict that records why a pair could not be judged.
    pub fn failed(id: impl Into<String>, error: impl Into<String>) -> Verdict {
        Verdict {
            id: id.into(),
            verdict: Choice::None,
            p_a: None,
            consistent: None,
            orders: Vec::new(),
            tokens: TokenCounts::default(),
            ms: 0.0,
            error: Some(error.into()),
        }
    }

    /// Combines per-order results (swap debiasing):
    /// `p_a = mean of the orders' p_a`, i.e. with both orders
    /// `p_a = (p_AB(A) + p_BA(A shown as B)) / 2`; `verdict` follows `p_a`;
    /// `consistent` = both orders chose the same original response.
    /// Orders without a probability are left out of the mean; if none has one, the
    /// verdict is what the orders wrote when they agree, else `none`.
    ///
    /// With reasoning, two orders that chose different responses are a tie (the rule
    /// of MT-Bench's pairwise judging): each order's letter follows its own reasoning,
    /// so its p_a is within a hair of 0 or 1, and the mean of two that contradict each
    /// other lands within a hair of 0.5 on a side that is noise.
    pub fn combine(id: String, orders: Vec<OrderVerdict>, tokens: TokenCounts, ms: f64) -> Verdict {
        let ps: Vec<f64> = orders.iter().filter_map(|o| o.p_a).collect();
        let p_a = (!ps.is_empty()).then(|| ps.iter().sum::<f64>() / ps.len() as f64);
        let reasoned_apart = matches!(orders.as_slice(), [x, y]
            if x.reasoning.is_some() && y.reasoning.is_some()
                && matches!((x.verdict, y.verdict), (Choice::A, Choice::B) | (Choice::B, Choice::A)));
        let verdict = if reasoned_apart {
            Choice::Tie
        } else {
            match p_a {
                Some(p) => Choice::from_p_a(p),
                None => match orders.as_slice() {
                    [one] => one.verdict,
                    [x, y] if x.verdict == y.verdict => x.verdict,
                    _ => Choice::None,
                },
            }
        };
        let consistent = match orders.as_slice() {
            [x, y] => Some(x.verdict == y.verdict && matches!(x.verdict, Choice::A | Choice::B)),
            _ => None,
        };
        Verdict { id, verdict, p_a, consistent, orders, tokens, ms, error: None }
    }
}

/// Finds the first `[[A` or `[[B` in generated text: the verdict letter as shown.
pub(crate) fn parse_shown_verdict(text: &str) -> Option<Choice> {
    let mut rest = text;
    while let Some(at) = rest.find("[[") {
        let after = rest[at + 2..].trim_start_matches(' ');
        match after.chars().next() {
            Some('A') => return Some(Choice::A),
            Some('B') => return Some(Choice::B),
            _ => rest = &rest[at + 2..],
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(order: Order, verdict: Choice, p_a: Option<f64>) -> OrderVerdict {
        OrderVerdict { order, verdict, p_a, forced: false, reasoning: None }
    }

    fn combine(orders: Vec<OrderVerdict>) -> Verdict {
        Verdict::combine("x".into(), orders, TokenCounts::default(), 0.0)
    }

    #[test]
    fn swap_combination_averages_the_two_orders_probabilities() {
        // AB: p(A shown first)=0.8 -> original A 0.8. BA: model gave p(shown A)=0.3, so
        // original A (shown as B) has 0.7.
        let v = combine(vec![order(Order::AB, Choice::A, Some(0.8)), order(Order::BA, Choice::A, Some(0.7))]);
        assert!((v.p_a.unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(v.verdict, Choice::A);
        assert_eq!(v.consistent, Some(true));
    }

    #[test]
    fn a_position_biased_judge_is_inconsistent() {
        // Always picks whatever is shown first: AB says A, BA says (original) B.
        let v = combine(vec![order(Order::AB, Choice::A, Some(0.9)), order(Order::BA, Choice::B, Some(0.2))]);
        assert_eq!(v.consistent, Some(false));
        assert!((v.p_a.unwrap() - 0.55).abs() < 1e-12);
    }

    #[test]
    fn reasoned_orders_that_contradict_each_other_are_a_tie() {
        let reasoned = |o, verdict, p_a| OrderVerdict { reasoning: Some("...".into()), ..order(o, verdict, p_a) };
        let v =
            combine(vec![reasoned(Order::AB, Choice::A, Some(0.9999)), reasoned(Order::BA, Choice::B, Some(0.0002))]);
        assert_eq!(v.verdict, Choice::Tie);
        assert_eq!(v.consistent, Some(false));
        assert!((v.p_a.unwrap() - 0.50005).abs() < 1e-12, "p_a stays the mean");
        // Agreeing reasoned orders follow p_a as before.
        let v = combine(vec![reasoned(Order::AB, Choice::B, Some(0.01)), reasoned(Order::BA, Choice::B, Some(0.02))]);
        assert_eq!(v.verdict, Choice::B);
    }

    #[test]
    fn orders_without_a_verdict_are_never_guessed() {
        let v = combine(vec![order(Order::AB, Choice::None, None), order(Order::BA, Choice::None, None)]);
        assert_eq!(v.verdict, Choice::None);
        assert_eq!(v.p_a, None);
        assert_eq!(v.consistent, Some(false));
    }

    #[test]
    fn exact_half_is_a_tie() {
        assert_eq!(Choice::from_p_a(0.5), Choice::Tie);
    }

    #[test]
    fn parses_the_first_verdict_marker() {
        assert_eq!(parse_shown_verdict("B is wrong. [[A]]"), Some(Choice::A));
        assert_eq!(parse_shown_verdict("see [[note]] then [[ B]]"), Some(Choice::B));
        assert_eq!(parse_shown_verdict("no verdict here"), None);
    }
}
