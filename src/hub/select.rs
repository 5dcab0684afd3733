//! Choosing the files to pull from a repo listing: the model GGUF of the requested quant
//! and the multimodal projector (mmproj) GGUF, if the repo has one.

use super::error::HubError;
use super::tree::RepoFile;

/// The files a pull downloads.
#[derive(Debug, Clone)]
pub(crate) struct Selection<'a> {
    /// The model's file, or its parts in order (`-00001-of-0000N` first: the one
    /// llama.cpp is given; it finds the others beside it).
    pub model: Vec<&'a RepoFile>,
    pub mmproj: Option<&'a RepoFile>,
}

/// The quant tags of projectors in order of preference; otherwise the smallest wins.
const MMPROJ_PREFERENCE: [&[&str]; 2] = [&["f16", "fp16"], &["q8_0"]];

/// Picks the model and mmproj among `files`. `quant` is a quant tag (`Q4_K_M`, matched
/// case-insensitively as a whole part of the file name) or a file name ending in `.gguf`.
pub(crate) fn choose<'a>(
    repo: &str,
    revision: &str,
    files: &'a [RepoFile],
    quant: &str,
) -> Result<Selection<'a>, HubError> {
    let ggufs: Vec<&RepoFile> = files.iter().filter(|f| is_gguf(f.file_name())).collect();
    if ggufs.is_empty() {
        return Err(HubError::NoGguf { repo: repo.to_string(), revision: revision.to_string() });
    }
    let (mmprojs, models): (Vec<&RepoFile>, Vec<&RepoFile>) =
        ggufs.into_iter().partition(|f| f.file_name().to_ascii_lowercase().contains("mmproj"));

    let by_name = is_gguf(quant);
    let matches: Vec<&RepoFile> = models
        .iter()
        .copied()
        .filter(|f| {
            if by_name {
                f.path.eq_ignore_ascii_case(quant) || f.file_name().eq_ignore_ascii_case(quant)
            } else {
                has_tag(base_stem(f.file_name()), quant)
            }
        })
        .collect();
    if matches.is_empty() {
        let mut available: Vec<String> =
            models.iter().map(|f| quant_tag(base_stem(f.file_name())).to_string()).collect();
        available.sort_by_key(|q| q.to_ascii_lowercase());
        available.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        return Err(HubError::NoMatchingQuant { repo: repo.to_string(), quant: quant.to_string(), available });
    }
    // Parts of one split model count as one match.
    let mut distinct: Vec<String> = matches.iter().map(|f| model_name(f)).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() > 1 {
        return Err(HubError::AmbiguousQuant { repo: repo.to_string(), quant: quant.to_string(), files: distinct });
    }
    let model = parts(repo, &matches)?;

    let mmproj = mmprojs
        .iter()
        .copied()
        .min_by_key(|f| {
            let stem = base_stem(f.file_name());
            let rank = MMPROJ_PREFERENCE
                .iter()
                .position(|tags| tags.iter().any(|t| has_tag(stem, t)))
                .unwrap_or(MMPROJ_PREFERENCE.len());
            (rank, f.size, f.path.clone())
        })
        .map(|best| {
            let parts: Vec<&RepoFile> = mmprojs.iter().copied().filter(|f| model_name(f) == model_name(best)).collect();
            match self::parts(repo, &parts)?.as_slice() {
                [one] => Ok(*one),
                _ => Err(HubError::SplitModel { repo: repo.to_string(), file: best.path.clone() }),
            }
        })
        .transpose()?;
    Ok(Selection { model, mmproj })
}

/// The files of one model in order: the file itself, or every part of a split one
/// (`NAME-0000K-of-0000N`, K from 1 to N, each once); an error if parts are missing.
fn parts<'a>(repo: &str, files: &[&'a RepoFile]) -> Result<Vec<&'a RepoFile>, HubError> {
    if let [file] = files {
        if split_part(stem(file.file_name())).is_none() {
            return Ok(vec![file]);
        }
    }
    let mut numbered: Vec<((u32, u32), &RepoFile)> =
        files.iter().filter_map(|f| split_part(stem(f.file_name())).map(|n| (n, *f))).collect();
    numbered.sort_by_key(|(n, _)| *n);
    let total = numbered.first().map_or(0, |((_, total), _)| *total);
    let complete = numbered.len() == files.len()
        && numbered.len() == total as usize
        && numbered.iter().enumerate().all(|(i, ((k, n), _))| *k as usize == i + 1 && *n == total);
    if !complete {
        let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        paths.sort();
        return Err(HubError::SplitModel { repo: repo.to_string(), file: paths[0].to_string() });
    }
    Ok(numbered.into_iter().map(|(_, f)| f).collect())
}

fn is_gguf(name: &str) -> bool {
    name.len() > 5 && name[name.len() - 5..].eq_ignore_ascii_case(".gguf")
}

/// The file name without `.gguf`.
fn stem(name: &str) -> &str {
    if is_gguf(name) {
        &name[..name.len() - 5]
    } else {
        name
    }
}

/// The stem without a split suffix (`m-Q4_K_M-00001-of-00003` gives `m-Q4_K_M`).
fn base_stem(name: &str) -> &str {
    let stem = stem(name);
    split_base(stem).unwrap_or(stem)
}

/// The path without `.gguf` and split suffix: the same for all parts of one model.
fn model_name(file: &RepoFile) -> String {
    let name = file.file_name();
    let dir = &file.path[..file.path.len() - name.len()];
    format!("{dir}{}.gguf", base_stem(name))
}

/// For `NAME-00002-of-00003`, `Some((2, 3))`.
fn split_part(stem: &str) -> Option<(u32, u32)> {
    split_base(stem)?;
    let (rest, total) = stem.rsplit_once("-of-")?;
    let part = rest.rsplit_once('-')?.1;
    Some((part.parse().ok()?, total.parse().ok()?))
}

/// For `NAME-00001-of-00003`, `Some(NAME)`.
fn split_base(stem: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (rest, total) = stem.rsplit_once("-of-")?;
    let (base, part) = rest.rsplit_once('-')?;
    (digits(total) && digits(part)).then_some(base)
}

/// True when `tag` occurs in `stem` (case-insensitively) as a whole part: after the start
/// or a non-alphanumeric character, and before the end or a character that is neither
/// alphanumeric nor `_` (so `Q4_K` does not match `Q4_K_M`, nor `f16` match `bf16`).
fn has_tag(stem: &str, tag: &str) -> bool {
    if tag.is_empty() {
        return false;
    }
    let hay = stem.to_ascii_lowercase();
    let tag = tag.to_ascii_lowercase();
    hay.match_indices(&tag).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + tag.len()..].chars().next();
        before.is_none_or(|c| !c.is_ascii_alphanumeric())
            && after.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// The quant tag of a model stem: its last `-` or `.` separated part.
fn quant_tag(stem: &str) -> &str {
    stem.rsplit(['-', '.']).next().unwrap_or(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> RepoFile {
        RepoFile { path: path.into(), size, sha256: None, git_oid: None }
    }

    fn smolvlm() -> Vec<RepoFile> {
        vec![
            file(".gitattributes", 1),
            file("README.md", 1),
            file("SmolVLM-256M-Instruct-Q8_0.gguf", 175),
            file("SmolVLM-256M-Instruct-f16.gguf", 328),
            file("SmolVLM-256M-Instruct-Q4_K_M.gguf", 120),
            file("mmproj-SmolVLM-256M-Instruct-Q8_0.gguf", 104),
            file("mmproj-SmolVLM-256M-Instruct-f16.gguf", 190),
        ]
    }

    fn pick(files: &[RepoFile], quant: &str) -> Result<(String, Option<String>), HubError> {
        let s = choose("o/n", "main", files, quant)?;
        Ok((s.model[0].path.clone(), s.mmproj.map(|m| m.path.clone())))
    }

    #[test]
    fn picks_quant_and_f16_mmproj() {
        let (model, mmproj) = pick(&smolvlm(), "q8_0").unwrap();
        assert_eq!(model, "SmolVLM-256M-Instruct-Q8_0.gguf");
        assert_eq!(mmproj.unwrap(), "mmproj-SmolVLM-256M-Instruct-f16.gguf");
        assert_eq!(pick(&smolvlm(), "F16").unwrap().0, "SmolVLM-256M-Instruct-f16.gguf");
        let by_name = pick(&smolvlm(), "smolvlm-256m-instruct-q4_k_m.gguf").unwrap();
        assert_eq!(by_name.0, "SmolVLM-256M-Instruct-Q4_K_M.gguf");
    }

    #[test]
    fn mmproj_preference() {
        let mut files = vec![file("m-Q4_K_M.gguf", 1), file("mmproj-bf16.gguf", 5), file("mmproj-q8_0.gguf", 9)];
        assert_eq!(pick(&files, "Q4_K_M").unwrap().1.unwrap(), "mmproj-q8_0.gguf");
        files.retain(|f| f.path != "mmproj-q8_0.gguf");
        files.push(file("mmproj-Q4_0.gguf", 3));
        assert_eq!(pick(&files, "Q4_K_M").unwrap().1.unwrap(), "mmproj-Q4_0.gguf");
        files.retain(|f| !f.path.starts_with("mmproj"));
        assert_eq!(pick(&files, "Q4_K_M").unwrap().1, None);
    }

    #[test]
    fn whole_tags_only() {
        assert!(has_tag("model-Q4_K_M", "q4_k_m"));
        assert!(has_tag("model.Q4_K_M", "Q4_K_M"));
        assert!(!has_tag("model-Q4_K_M", "Q4_K"));
        assert!(!has_tag("model-IQ4_XS", "Q4_XS"));
        assert!(!has_tag("model-bf16", "f16"));
        assert!(has_tag("model-f16", "f16"));
    }

    #[test]
    fn missing_quant_lists_available() {
        match pick(&smolvlm(), "Q5_K_M") {
            Err(HubError::NoMatchingQuant { available, .. }) => {
                assert_eq!(available, ["f16", "Q4_K_M", "Q8_0"])
            }
            other => panic!("{other:?}"),
        }
        let err = pick(&smolvlm(), "Q4_K").unwrap_err().to_string();
        assert!(err.contains("Q4_K_M, Q8_0"), "{err}");
        assert!(matches!(pick(&[file("README.md", 1)], "Q8_0"), Err(HubError::NoGguf { .. })));
    }

    #[test]
    fn split_and_ambiguous() {
        let files = vec![
            file("big-Q4_K_M-00001-of-00002.gguf", 1),
            file("big-Q4_K_M-00002-of-00002.gguf", 1),
            file("big-Q8_0.gguf", 1),
            file("a-Q5_0.gguf", 1),
            file("b-Q5_0.gguf", 1),
        ];
        let split = choose("o/n", "main", &files, "Q4_K_M").unwrap();
        let names: Vec<&str> = split.model.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf"]);
        // A part missing from the listing is an error naming the model.
        let incomplete: Vec<RepoFile> = files.iter().filter(|f| !f.path.contains("-00002-of")).cloned().collect();
        match pick(&incomplete, "Q4_K_M") {
            Err(HubError::SplitModel { file, .. }) => assert_eq!(file, "big-Q4_K_M-00001-of-00002.gguf"),
            other => panic!("{other:?}"),
        }
        assert_eq!(pick(&files, "Q8_0").unwrap().0, "big-Q8_0.gguf");
        match pick(&files, "Q5_0") {
            Err(HubError::AmbiguousQuant { files, .. }) => {
                assert_eq!(files, ["a-Q5_0.gguf", "b-Q5_0.gguf"])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pick(&files, "a-Q5_0.gguf").unwrap().0, "a-Q5_0.gguf");
        match pick(&files, "Q6_K") {
            Err(HubError::NoMatchingQuant { available, .. }) => {
                assert_eq!(available, ["Q4_K_M", "Q5_0", "Q8_0"])
            }
            other => panic!("{other:?}"),
        }
    }
}
