//! The `vlmjudge-lab` command: its arguments are checked as `vlmjudge`'s are.

use std::process::{Command, Stdio};

fn lab() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vlmjudge-lab"));
    cmd.stdin(Stdio::null());
    cmd
}

#[test]
fn fixture_layers_apply_to_the_world_base_only() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = |kind: &str, layers: &str| {
        lab().args(["fixture", "--kind", kind, "--layers", layers, "--out"]).arg(tmp.path()).output().unwrap()
    };
    let refused = fixture("tiny-vlm", "4");
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8(refused.stderr).unwrap();
    assert!(err.contains("--layers applies to --kind world-base only"), "{err}");
    assert!(fixture("world-base", "4").status.success());
    assert!(tmp.path().join("model.gguf").is_file());
}
