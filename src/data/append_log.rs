use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An append-only JSON Lines file of records with an `id` (verdicts, pairs, SFT
/// examples). Each record is one line written with a single `write` and flushed, so a
/// killed process leaves at most one partial last line; reopening drops that line, and
/// the ids already present are skipped on a rerun.
#[derive(Debug)]
pub struct AppendLog {
    path: PathBuf,
    file: File,
    done: HashSet<String>,
    repaired: bool,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl AppendLog {
    /// Opens (or creates) `path` for appending and reads the ids it already holds.
    pub fn open(path: &Path) -> Result<AppendLog> {
        let io = |e| Error::io(path, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut done = HashSet::new();
        let mut repaired = false;
        if path.exists() {
            let bytes = std::fs::read(path).map_err(io)?;
            let complete = match bytes.iter().rposition(|&b| b == b'\n') {
                Some(last_newline) => last_newline + 1,
                None => 0,
            };
            if complete < bytes.len() {
                // A line cut short by a kill: drop it, its pair is judged again.
                let file = OpenOptions::new().write(true).open(path).map_err(io)?;
                file.set_len(complete as u64).map_err(io)?;
                repaired = true;
            }
            for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let record: IdOnly = serde_json::from_slice(line).map_err(|e| Error::InvalidInput {
                    path: path.into(),
                    line: i + 1,
                    reason: format!("not a record with an id ({e}); refusing to append to it"),
                })?;
                done.insert(record.id);
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        Ok(AppendLog { path: path.into(), file, done, repaired })
    }

    /// Ids already in the file.
    pub fn done(&self) -> &HashSet<String> {
        &self.done
    }

    /// Whether opening dropped a partial last line.
    pub fn repaired(&self) -> bool {
        self.repaired
    }

    /// Appends `record` (whose serialised `id` must be `id`) as one line.
    pub fn append_record<T: Serialize>(&mut self, id: &str, record: &T) -> Result<()> {
        let mut line = serde_json::to_vec(record).map_err(|source| Error::Json { path: self.path.clone(), source })?;
        line.push(b'\n');
        self.file.write_all(&line).and_then(|()| self.file.flush()).map_err(|e| Error::io(&self.path, e))?;
        self.done.insert(id.to_string());
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
