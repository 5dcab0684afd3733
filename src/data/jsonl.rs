use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::fsutil::write_atomic;
use crate::{Error, Result};

/// Reads a JSON Lines file into records, with the line number of each. Blank lines are
/// skipped; invalid UTF-8 or JSON is an error naming the file and line.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut records = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let invalid = |reason: String| Error::InvalidInput { path: path.to_path_buf(), line: number, reason };
        let text = std::str::from_utf8(line).map_err(|e| invalid(format!("invalid UTF-8 ({e})")))?;
        if text.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        records.push((number, record));
    }
    Ok(records)
}

/// Writes `value` as pretty-printed JSON with a final line break, atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|source| Error::Json { path: path.into(), source })?;
    text.push(b'\n');
    write_atomic(path, |w| w.write_all(&text))
}

/// Writes `records` as a JSON Lines file, atomically (a reader never sees half a file).
pub fn write_jsonl<'a, T: Serialize + 'a>(path: &Path, records: impl IntoIterator<Item = &'a T>) -> Result<()> {
    let mut text = Vec::new();
    for record in records {
        serde_json::to_writer(&mut text, record).map_err(|source| Error::Json { path: path.into(), source })?;
        text.push(b'\n');
    }
    write_atomic(path, |w| w.write_all(&text))
}
