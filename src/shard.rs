//! Scale-out: one job of an array works on every N-th record.
//!
//! A shard `K/N` (0-based K) takes the records whose position in the input is `K`
//! modulo `N`. Positions, not ids, decide, so shards are balanced whatever the ids look
//! like, and `vlmjudge merge` can put the shards' lines back in input order. The shard
//! comes from `--shard K/N`, else from a job array's environment: Slurm
//! (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes Indexed Job
//! (`JOB_COMPLETION_INDEX` with `VLMJUDGE_SHARD_COUNT`, since Kubernetes does not put
//! the completion count in the environment).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// Which part of the input this process handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole input.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::InvalidArgument(format!(
                "shard {index}/{count}: the index must be below the count (0-based, e.g. 0/4 .. 3/4)"
            )));
        }
        Ok(Shard { index, count })
    }

    /// `explicit` (from `--shard`) if given, else a job array's environment, else
    /// [`Shard::ALL`].
    pub fn resolve(explicit: Option<Shard>) -> Result<Shard> {
        match explicit {
            Some(s) => Ok(s),
            None => Shard::from_env(|k| std::env::var(k).ok()),
        }
    }

    /// Reads a job array's environment through `var` (testable without touching the
    /// process environment).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let number = |key: &str| -> Result<Option<usize>> {
            match var(key).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::InvalidArgument(format!("{key}={v:?} is not a non-negative integer"))),
            }
        };
        let pairs =
            [("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"), ("JOB_COMPLETION_INDEX", "VLMJUDGE_SHARD_COUNT")];
        for (index_key, count_key) in pairs {
            if let Some(index) = number(index_key)? {
                let count = number(count_key)?.ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{index_key} is set but {count_key} is not: set it to the number of shards"
                    ))
                })?;
                // Slurm arrays may start at 1 (--array=1-N); take the minimum as the base.
                let base =
                    if index_key.starts_with("SLURM") { number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0) } else { 0 };
                return Shard::new(index.checked_sub(base).unwrap_or(usize::MAX), count);
            }
        }
        Ok(Shard::ALL)
    }

    /// Whether the record at `position` (0-based, in input order) belongs here.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// The items of this shard, in input order.
    pub fn select<T>(&self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items.into_iter().enumerate().filter(|(i, _)| self.contains(*i)).map(|(_, x)| x).collect()
    }

    pub fn is_all(&self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `K/N`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::InvalidArgument(format!("shard {s:?}: expected K/N, e.g. 0/4"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        Shard::new(k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn shards_partition_the_input_in_order() {
        let items: Vec<usize> = (0..10).collect();
        let mut all: Vec<usize> = (0..3).flat_map(|k| Shard::new(k, 3).unwrap().select(items.clone())).collect();
        assert_eq!(Shard::new(1, 3).unwrap().select(items.clone()), vec![1, 4, 7]);
        all.sort();
        assert_eq!(all, items);
    }

    #[test]
    fn parses_k_of_n_and_rejects_out_of_range() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        assert!("4/4".parse::<Shard>().is_err());
        assert!("1-4".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
    }

    #[test]
    fn reads_slurm_and_kubernetes_environments() {
        let slurm = env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert_eq!(Shard::from_env(slurm).unwrap(), Shard { index: 3, count: 4 });
        let one_based =
            env(&[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "1")]);
        assert_eq!(Shard::from_env(one_based).unwrap(), Shard { index: 3, count: 4 });
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1"), ("VLMJUDGE_SHARD_COUNT", "2")]);
        assert_eq!(Shard::from_env(k8s).unwrap(), Shard { index: 1, count: 2 });
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")])).is_err());
        assert_eq!(Shard::from_env(env(&[])).unwrap(), Shard::ALL);
    }
}
