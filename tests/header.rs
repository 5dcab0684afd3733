//! include/vlmjudge.h is generated from src/ffi by cbindgen (pinned in Cargo.toml) and
//! committed. This test regenerates it and fails on any difference; run
//! `make header` (VLMJUDGE_BLESS=1) to rewrite it after changing the ABI.

use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().expect("numeric version"));
    let (major, minor, patch) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    config.header = Some(
        "/* vlmjudge: self-improving vision-language judges, C ABI.\n \
         *\n \
         * Generated from src/ffi by cbindgen; do not edit (run `make header`).\n \
         *\n \
         * Thread safety: a vlmjudge_model may be shared by any number of threads; a\n \
         * vlmjudge_judge is used by one thread at a time (it may move between threads);\n \
         * a vlmjudge_verdict is immutable. Every function that can fail returns a\n \
         * vlmjudge_status, writes its outputs only on success, and sets the calling\n \
         * thread's vlmjudge_last_error_message(). No function aborts the process or lets\n \
         * a panic unwind into the caller. Every _free accepts NULL.\n \
         */"
        .into(),
    );
    config.after_includes = Some(format!(
        "\n#define VLMJUDGE_VERSION \"{version}\"\n#define VLMJUDGE_VERSION_MAJOR {major}\n\
         #define VLMJUDGE_VERSION_MINOR {minor}\n#define VLMJUDGE_VERSION_PATCH {patch}\n"
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        // The module's own file; cbindgen follows its `mod` declarations.
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn the_committed_header_matches_the_ffi_sources() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/vlmjudge.h");
    let generated = generate();
    if std::env::var_os("VLMJUDGE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/vlmjudge.h is out of date with src/ffi: run `make header` and commit the result"
    );
}

#[test]
fn the_header_version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/vlmjudge.h")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(header.contains(&format!("#define VLMJUDGE_VERSION \"{version}\"")), "VLMJUDGE_VERSION != {version}");
    for (name, part) in ["MAJOR", "MINOR", "PATCH"].iter().zip(version.split('.')) {
        assert!(header.contains(&format!("#define VLMJUDGE_VERSION_{name} {part}\n")), "VLMJUDGE_VERSION_{name}");
    }
    // And the library reports the same version at run time.
    let runtime = unsafe { std::ffi::CStr::from_ptr(vlmjudge::ffi::vlmjudge_version()) };
    assert_eq!(runtime.to_str().unwrap(), version);
}
