//! The layers of ARCHITECTURE.md, checked: a module of the library imports only modules
//! of lower layers (and the crate root's items: `Error`, `Result`, the cache paths).
//! The C library's build (`--no-default-features`, in `make test`) already fails on an
//! import of the loop from the runtime; this catches the runtime's own layers
//! (`gguf`/`data` -> `engine` -> `judge` -> `ffi`) and the loop's, which that build
//! cannot see.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each module's layer, lowest first (the table in ARCHITECTURE.md).
const LAYERS: &[(&str, u32)] = &[
    ("fsutil", 0),
    ("seed", 0),
    ("progress", 0),
    ("shard", 0),
    ("exit", 0),
    ("gguf", 1),
    ("data", 1),
    ("hub", 1),
    ("engine", 2),
    ("judge", 3),
    ("ffi", 4),
    ("generate", 5),
    ("synth", 5),
    ("eval", 5),
    ("export", 5),
    ("train", 6),
    ("improve", 7),
    ("report", 8),
];

/// Items of the crate root every module may use.
const ROOT_ITEMS: &[&str] = &["Error", "Result", "cache_dir", "demo_model_path", "VERSION"];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|&(_, layer)| layer)
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The crate's top-level names a file's code refers to as `crate::name` or inside
/// `crate::{a, b::c}` (comments are skipped: a doc link is not an import).
fn crate_names(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in source.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    names.insert(name);
                }
            } else {
                names.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

#[test]
fn every_module_imports_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for &(module, own) in LAYERS {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        rust_files(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "src/{module} has no files: update LAYERS and ARCHITECTURE.md");
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for name in crate_names(&source) {
                if name == module || ROOT_ITEMS.contains(&name.as_str()) {
                    continue;
                }
                match layer(&name) {
                    Some(other) if other < own => {}
                    Some(other) => violations.push(format!(
                        "{} (layer {own}) imports crate::{name} (layer {other})",
                        file.strip_prefix(&src).unwrap().display()
                    )),
                    None => violations.push(format!(
                        "{} imports crate::{name}, which has no layer in ARCHITECTURE.md",
                        file.strip_prefix(&src).unwrap().display()
                    )),
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layers:\n{}", violations.join("\n"));
}

#[test]
fn the_scanner_sees_plain_and_grouped_imports_but_not_comments() {
    let source = "use crate::engine::Model;\nuse crate::{judge::Pair, Error};\n// see crate::report\n";
    let names: Vec<String> = crate_names(source).into_iter().collect();
    assert_eq!(names, ["Error", "engine", "judge"]);
}

#[test]
fn every_module_of_the_library_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(declared.len() > 10, "lib.rs declares its modules: {declared:?}");
    for module in declared {
        // `error` is the crate's one error type: its variants wrap feature modules' errors.
        assert!(module == "error" || layer(module).is_some(), "src/lib.rs declares `{module}`, which has no layer");
    }
}
