//! Numbers written with digits, altered to a plausible different value and written back
//! in the original's format (thousands commas, decimals, leading zeros).

use rand::Rng;

/// A number as written: digits with optional thousands commas and decimal point.
pub(super) struct Number {
    /// The value times 10^decimals.
    scaled: u64,
    decimals: usize,
    grouped: bool,
    /// Width of the integer part when written with leading zeros ("007").
    zero_padded: Option<usize>,
}

pub(super) fn parse_number(word: &str) -> Option<Number> {
    let (int, frac) = match word.split_once('.') {
        Some((i, f)) => (i, f),
        None => (word, ""),
    };
    if frac.contains(['.', ',']) || int.is_empty() {
        return None;
    }
    let grouped = int.contains(',');
    if grouped {
        let mut groups = int.split(',');
        let head = groups.next()?;
        if head.is_empty() || head.len() > 3 || !groups.all(|g| g.len() == 3) {
            return None;
        }
    }
    let digits: String = int.chars().filter(|c| *c != ',').collect();
    if digits.len() + frac.len() > 15 {
        return None;
    }
    let scaled = format!("{digits}{frac}").parse().ok()?;
    let zero_padded = (digits.len() > 1 && digits.starts_with('0')).then_some(digits.len());
    Some(Number { scaled, decimals: frac.len(), grouped, zero_padded })
}

/// A plausible different value, written like the original.
pub(super) fn new_number(from: &str, rng: &mut impl Rng) -> String {
    let n = parse_number(from).expect("a parsed number");
    let v = n.scaled;
    let looks_like_year = n.decimals == 0 && !n.grouped && n.zero_padded.is_none() && (1000..=2100).contains(&v);
    let new = if looks_like_year {
        let d = rng.random_range(1..=10);
        if rng.random_bool(0.5) && v + d <= 2100 {
            v + d
        } else {
            v - d
        }
    } else if v <= 10 {
        let options: Vec<u64> =
            [-2i64, -1, 1, 2].iter().map(|d| v as i64 + d).filter(|&x| x >= 0).map(|x| x as u64).collect();
        options[rng.random_range(0..options.len())]
    } else {
        let delta = ((v as f64) * rng.random_range(0.1..=0.5)).round().max(1.0) as u64;
        if rng.random_bool(0.5) || delta >= v {
            v + delta
        } else {
            v - delta
        }
    };
    debug_assert_ne!(new, v);
    format_number(new, &n)
}

fn format_number(scaled: u64, like: &Number) -> String {
    let digits = format!("{:0width$}", scaled, width = like.decimals + 1);
    let (int, frac) = digits.split_at(digits.len() - like.decimals);
    let mut int = int.to_string();
    if let Some(width) = like.zero_padded {
        int = format!("{int:0>width$}");
    }
    if like.grouped {
        let bytes = int.as_bytes();
        let mut grouped = String::new();
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && (bytes.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(*b as char);
        }
        int = grouped;
    }
    if like.decimals == 0 {
        int
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn numbers_change_plausibly_and_keep_their_format() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let v: u64 = r.random_range(0..=10);
            let new: u64 = new_number(&v.to_string(), &mut r).parse().unwrap();
            assert!(new != v && new.abs_diff(v) <= 2, "{v} -> {new}");

            let v: u64 = r.random_range(11..=999);
            let new: u64 = new_number(&v.to_string(), &mut r).parse().unwrap();
            assert!(new != v && new.abs_diff(v) as f64 <= 0.5 * v as f64 + 1.0, "{v} -> {new}");

            let new: u64 = new_number("1998", &mut r).parse().unwrap();
            assert!(new != 1998 && new.abs_diff(1998) <= 10, "1998 -> {new}");

            let grouped = new_number("12,500", &mut r);
            let plain: u64 = grouped.replace(',', "").parse().unwrap();
            assert!(plain != 12500 && grouped.contains(','), "12,500 -> {grouped}");
            assert_eq!(grouped, format_number(plain, &parse_number("12,500").unwrap()));

            let decimal = new_number("2.5", &mut r);
            assert!(decimal != "2.5" && decimal.split_once('.').unwrap().1.len() == 1, "2.5 -> {decimal}");

            let padded = new_number("007", &mut r);
            assert!(padded.len() == 3 && padded != "007", "007 -> {padded}");
        }
        assert_eq!(format_number(1234567, &parse_number("1,000").unwrap()), "1,234,567");
        assert_eq!(format_number(5, &parse_number("0.25").unwrap()), "0.05");
    }
}
