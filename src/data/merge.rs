//! `vlmjudge merge`: joins the JSON Lines outputs of shard jobs (verdicts, synthetic
//! pairs, SFT examples) into one file, deterministically.
//!
//! Every line must be a JSON object with a string `id`. Lines are copied byte for byte
//! and ordered by id (byte order), or, given the input file the shards were cut from, by
//! the position of each id there. An id missing from that file is placed by its longest
//! prefix before a `/` that is there (`p7/AB` goes with `p7`), ties broken by id. The
//! same id twice is dropped when the lines are identical and an error when they differ.
//! A shard whose last line has no newline was cut off (a killed job): an error, or
//! dropped with `allow_partial`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::fsutil::write_atomic;
use crate::{Error, Result};

/// How to merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Order lines by the ids' positions in this JSON Lines file instead of by id.
    pub order: Option<PathBuf>,
    /// Drop a shard's unterminated last line instead of failing.
    pub allow_partial: bool,
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeSummary {
    /// Lines written.
    pub lines: usize,
    /// Lines dropped because an identical line with the same id came before.
    pub duplicates: usize,
    /// Unterminated last lines dropped (with `allow_partial`): file and line number.
    pub dropped_partial: Vec<(PathBuf, usize)>,
    /// Ids of the order file that no line matched, exactly or by prefix (records not
    /// produced: a missing shard, or items a stage skipped).
    pub unmatched_order_ids: usize,
}

#[derive(Deserialize)]
struct IdOnly {
    id: Option<serde_json::Value>,
}

/// The string `id` of a JSON Lines record, or why the line is not one.
fn line_id(line: &[u8]) -> std::result::Result<String, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8 ({e})"))?;
    if !text.trim_start().starts_with('{') {
        return Err("not a JSON object".into());
    }
    let record: IdOnly = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    match record.id {
        Some(serde_json::Value::String(id)) => Ok(id),
        Some(other) => Err(format!("`id` is not a string: {other}")),
        None => Err("no `id` field".into()),
    }
}

/// One record of a shard.
struct Line<'a> {
    id: String,
    bytes: &'a [u8],
    file: usize,
    number: usize,
}

/// A line's 1-based number and its bytes (without the newline).
type Numbered<'a> = (usize, &'a [u8]);

/// The non-blank lines of `bytes`, and the unterminated last line if there is one.
fn split_lines(bytes: &[u8]) -> (Vec<Numbered<'_>>, Option<Numbered<'_>>) {
    let mut parts: Vec<Numbered> = bytes.split(|&b| b == b'\n').enumerate().map(|(i, l)| (i + 1, l)).collect();
    // After the final newline `split` yields an empty piece; anything else is partial.
    let last = parts.pop().filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    let blank = |l: &[u8]| l.iter().all(u8::is_ascii_whitespace);
    (parts.into_iter().filter(|(_, l)| !blank(l)).collect(), last)
}

/// Positions of the ids of the order file (the first occurrence of each).
fn read_order(path: &Path) -> Result<HashMap<String, usize>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (mut lines, last) = split_lines(&bytes);
    // The order file is an input, not a shard: its last line needs no newline.
    lines.extend(last);
    let mut positions = HashMap::with_capacity(lines.len());
    for (number, line) in lines {
        let id =
            line_id(line).map_err(|reason| Error::InvalidInput { path: path.to_path_buf(), line: number, reason })?;
        let next = positions.len();
        positions.entry(id).or_insert(next);
    }
    Ok(positions)
}

/// The position of `id` in the order file: its own, else that of its longest prefix
/// before a `/`.
fn position(order: &HashMap<String, usize>, id: &str) -> Option<usize> {
    if let Some(&p) = order.get(id) {
        return Some(p);
    }
    let mut prefix = id;
    while let Some(cut) = prefix.rfind('/') {
        prefix = &prefix[..cut];
        if let Some(&p) = order.get(prefix) {
            return Some(p);
        }
    }
    None
}

/// Merges the shard files `inputs` and returns the merged bytes (every line ending in a
/// newline) and what was done.
pub fn merge_jsonl(inputs: &[PathBuf], options: &MergeOptions) -> Result<(Vec<u8>, MergeSummary)> {
    let order = options.order.as_deref().map(read_order).transpose()?;
    let contents: Vec<Vec<u8>> =
        inputs.iter().map(|p| std::fs::read(p).map_err(|e| Error::io(p, e))).collect::<Result<_>>()?;
    let mut summary = MergeSummary::default();
    let mut lines: Vec<Line> = Vec::new();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    for (file, bytes) in contents.iter().enumerate() {
        let path = &inputs[file];
        let (complete, partial) = split_lines(bytes);
        if let Some((number, _)) = partial {
            if !options.allow_partial {
                return Err(Error::InvalidInput {
                    path: path.clone(),
                    line: number,
                    reason: "the last line has no newline: the job writing this shard was cut off; rerun the shard, \
                             or pass --allow-partial to drop the line"
                        .into(),
                });
            }
            summary.dropped_partial.push((path.clone(), number));
        }
        for (number, bytes) in complete {
            let id =
                line_id(bytes).map_err(|reason| Error::InvalidInput { path: path.clone(), line: number, reason })?;
            if let Some(&k) = first_of.get(&id) {
                let earlier: &Line = &lines[k];
                if earlier.bytes == bytes {
                    summary.duplicates += 1;
                    continue;
                }
                return Err(Error::InvalidInput {
                    path: path.clone(),
                    line: number,
                    reason: format!(
                        "id {id:?} is also at {}:{} with different content",
                        inputs[earlier.file].display(),
                        earlier.number
                    ),
                });
            }
            first_of.insert(id.clone(), lines.len());
            lines.push(Line { id, bytes, file, number });
        }
    }

    match &order {
        None => lines.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes())),
        Some(order) => {
            let mut keyed = Vec::with_capacity(lines.len());
            let mut matched = vec![false; order.len()];
            for line in lines {
                let Some(p) = position(order, &line.id) else {
                    return Err(Error::InvalidInput {
                        path: inputs[line.file].clone(),
                        line: line.number,
                        reason: format!(
                            "id {:?} is not in the order file {}, nor is any prefix of it before a '/'",
                            line.id,
                            options.order.as_deref().unwrap_or(Path::new("")).display()
                        ),
                    });
                };
                matched[p] = true;
                keyed.push((p, line));
            }
            keyed.sort_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| a.id.as_bytes().cmp(b.id.as_bytes())));
            summary.unmatched_order_ids = matched.iter().filter(|m| !**m).count();
            lines = keyed.into_iter().map(|(_, l)| l).collect();
        }
    }

    let mut out = Vec::with_capacity(lines.iter().map(|l| l.bytes.len() + 1).sum());
    for line in &lines {
        out.extend_from_slice(line.bytes);
        out.push(b'\n');
    }
    summary.lines = lines.len();
    Ok((out, summary))
}

/// Merges the shard files `inputs` into `out` (written atomically; `out` may be one of
/// the inputs).
pub fn merge_files(inputs: &[PathBuf], out: &Path, options: &MergeOptions) -> Result<MergeSummary> {
    let (bytes, summary) = merge_jsonl(inputs, options)?;
    write_atomic(out, |w| w.write_all(&bytes))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, content: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    fn merged(inputs: &[PathBuf], options: &MergeOptions) -> Result<(String, MergeSummary)> {
        merge_jsonl(inputs, options).map(|(b, s)| (String::from_utf8(b).unwrap(), s))
    }

    fn ids(text: &str) -> Vec<String> {
        text.lines().map(|l| line_id(l.as_bytes()).unwrap()).collect()
    }

    #[test]
    fn without_order_lines_are_sorted_by_id_bytes_and_copied_verbatim() {
        let d = tempfile::tempdir().unwrap();
        let a = file(d.path(), "a", "{\"id\":\"b\",  \"x\":1.50}\n{\"id\":\"Z\"}\n");
        let b = file(d.path(), "b", "\n{ \"x\": [1,2], \"id\": \"a\" }\n");
        let (text, s) = merged(&[a.clone(), b.clone()], &MergeOptions::default()).unwrap();
        assert_eq!(text, "{\"id\":\"Z\"}\n{ \"x\": [1,2], \"id\": \"a\" }\n{\"id\":\"b\",  \"x\":1.50}\n");
        assert_eq!(s.lines, 3);
        // The order of the inputs does not matter.
        let (again, _) = merged(&[b, a], &MergeOptions::default()).unwrap();
        assert_eq!(again, text);
    }

    #[test]
    fn order_file_positions_place_exact_and_derived_ids() {
        let d = tempfile::tempdir().unwrap();
        let order = file(d.path(), "in", "{\"id\":\"p9\"}\n{\"id\":\"p10\"}\n{\"id\":\"p7\"}\n{\"id\":\"p1/x\"}");
        let s0 = file(d.path(), "s0", "{\"id\":\"p7/AB\"}\n{\"id\":\"p10\"}\n{\"id\":\"p1/x/y/z\"}\n");
        let s1 = file(d.path(), "s1", "{\"id\":\"p7\"}\n{\"id\":\"p7/AA\"}\n");
        let options = MergeOptions { order: Some(order), ..Default::default() };
        let (text, s) = merged(&[s0, s1], &options).unwrap();
        assert_eq!(ids(&text), ["p10", "p7", "p7/AA", "p7/AB", "p1/x/y/z"]);
        assert_eq!(s.unmatched_order_ids, 1, "p9 has no line");
    }

    #[test]
    fn an_id_unknown_to_the_order_file_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let order = file(d.path(), "in", "{\"id\":\"p1\"}\n");
        let s0 = file(d.path(), "s0", "{\"id\":\"p1/A\"}\n{\"id\":\"p11/A\"}\n");
        let e = merged(&[s0], &MergeOptions { order: Some(order), ..Default::default() }).unwrap_err().to_string();
        assert!(e.contains("s0:2") && e.contains("\"p11/A\""), "{e}");
    }

    #[test]
    fn identical_duplicates_are_dropped_and_conflicting_ones_name_both_files() {
        let d = tempfile::tempdir().unwrap();
        let a = file(d.path(), "a.jsonl", "{\"id\":\"q1\",\"v\":\"A\"}\n{\"id\":\"q2\",\"v\":\"B\"}\n");
        let b = file(d.path(), "b.jsonl", "{\"id\":\"q1\",\"v\":\"A\"}\n");
        let (text, s) = merged(&[a.clone(), b], &MergeOptions::default()).unwrap();
        assert_eq!(ids(&text), ["q1", "q2"]);
        assert_eq!(s.duplicates, 1);
        let c = file(d.path(), "c.jsonl", "{\"id\":\"q9\"}\n{\"id\":\"q2\",\"v\":\"A\"}\n");
        let e = merged(&[a, c], &MergeOptions::default()).unwrap_err().to_string();
        assert!(e.contains("c.jsonl:2") && e.contains("a.jsonl:2") && e.contains("\"q2\""), "{e}");
    }

    #[test]
    fn a_partial_last_line_is_an_error_unless_allowed() {
        let d = tempfile::tempdir().unwrap();
        let a = file(d.path(), "a.jsonl", "{\"id\":\"q1\"}\n{\"id\":\"q2\",\"reas");
        let e = merged(std::slice::from_ref(&a), &MergeOptions::default()).unwrap_err().to_string();
        assert!(e.contains("a.jsonl:2") && e.contains("--allow-partial"), "{e}");
        let (text, s) =
            merged(std::slice::from_ref(&a), &MergeOptions { allow_partial: true, ..Default::default() }).unwrap();
        assert_eq!(text, "{\"id\":\"q1\"}\n");
        assert_eq!(s.dropped_partial, vec![(a, 2)]);
        // A complete object without its newline is still cut off: the newline is the commit.
        let b = file(d.path(), "b.jsonl", "{\"id\":\"q1\"}");
        assert!(merged(&[b], &MergeOptions::default()).is_err());
    }

    #[test]
    fn lines_that_are_not_objects_with_a_string_id_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        for (content, why) in [
            ("{\"id\":\"a\"}\n[\"b\"]\n", "not a JSON object"),
            ("{\"id\":\"a\"}\n{\"id\":7}\n", "not a string"),
            ("{\"id\":\"a\"}\n{\"name\":\"x\"}\n", "no `id`"),
            ("{\"id\":\"a\"}\n{\"id\":\"b\",}\n", "invalid JSON"),
            ("{\"id\":\"a\"}\n\"b\"\n", "not a JSON object"),
        ] {
            let p = file(d.path(), "bad.jsonl", content);
            let e = merged(&[p], &MergeOptions::default()).unwrap_err().to_string();
            assert!(e.contains("bad.jsonl:2") && e.contains(why), "{content:?}: {e}");
        }
    }

    #[test]
    fn merge_files_writes_the_output_atomically_even_over_an_input() {
        let d = tempfile::tempdir().unwrap();
        let a = file(d.path(), "a", "{\"id\":\"2\"}\n");
        let b = file(d.path(), "b", "{\"id\":\"1\"}\n");
        let s = merge_files(&[a.clone(), b], &a, &MergeOptions::default()).unwrap();
        assert_eq!(s.lines, 2);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "{\"id\":\"1\"}\n{\"id\":\"2\"}\n");
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
