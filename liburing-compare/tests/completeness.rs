//! The other direction of `prep_bytes.rs`: every `io_uring_prep_*` helper that liburing
//! 2.15 defines (as the `axboe-liburing` crate in use transliterates them) is the
//! liburing side of some byte-for-byte case in `prep_bytes.rs`, or is listed below as
//! left out, with the reason. A helper added by a later liburing release fails the test
//! until it gets a counterpart or a reason.
//!
//! The helper names are read from the dependency's own source, found with
//! `cargo metadata` (cargo runs the tests, and says where it is: the `CARGO` variable),
//! so the list cannot drift from the liburing the cases are compared with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// liburing 2.15 helpers with no counterpart among our preps, and why.
const LEFT_OUT: &[(&str, &str)] = &[
    (
        "io_uring_prep_cmd_discard",
        "a block-device command (BLOCK_URING_CMD_DISCARD): not networking, files as files, \
         timeouts, polling, buffers, messaging or futexes",
    ),
    (
        "io_uring_prep_nop128",
        "IORING_OP_NOP128, an opcode of SQE_MIXED rings, which Linux 6.18 lacks and BigRing \
         refuses (a NOP on BigRing's SQE128 ring is prep_nop in a 128-byte slot)",
    ),
    (
        "io_uring_prep_uring_cmd128",
        "IORING_OP_URING_CMD128, an opcode of SQE_MIXED rings, which Linux 6.18 lacks and \
         BigRing refuses (an 80-byte command on an SQE128 ring is Sqe128::prep_uring_cmd)",
    ),
];

/// The source directory of the `axboe-liburing` package this workspace resolved.
fn liburing_source_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).expect("UTF-8 metadata");
    // The package object of axboe-liburing, not an entry of some package's dependency
    // list: cargo prints a package's "name" followed by its "version" (a dependency's by
    // its "source"), and its "manifest_path" further on in the same object.
    let package = r#""name":"axboe-liburing","version":""#;
    let at = json
        .find(package)
        .expect("axboe-liburing in the resolved packages");
    let key = r#""manifest_path":""#;
    let start = at + json[at..].find(key).expect("its manifest_path") + key.len();
    let end = start + json[start..].find('"').expect("the end of the path");
    Path::new(&json[start..end])
        .parent()
        .expect("the package directory")
        .to_path_buf()
}

/// Every `fn io_uring_prep_*` name in the Rust sources under `dir`.
fn helper_names(dir: &Path, names: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("reading the liburing sources") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            helper_names(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            for piece in text.split("fn io_uring_prep_").skip(1) {
                let tail: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(format!("io_uring_prep_{tail}"));
            }
        }
    }
}

#[test]
fn every_liburing_prep_has_a_case_or_a_reason() {
    let mut names = BTreeSet::new();
    helper_names(&liburing_source_dir(), &mut names);
    assert!(
        names.len() > 90,
        "found only {} liburing helpers: {names:?}",
        names.len()
    );
    let cases = include_str!("prep_bytes.rs");
    // The liburing side of a case calls the helper: `io_uring_prep_x(`.
    let compared = |name: &str| cases.contains(&format!("{name}("));
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !compared(n) && !LEFT_OUT.iter().any(|(l, _)| l == n))
        .collect();
    assert!(
        missing.is_empty(),
        "liburing helpers with no case in prep_bytes.rs and no reason in LEFT_OUT: {missing:?}"
    );
    // And the list of reasons stays true: nothing left out that has a case or that
    // liburing does not have.
    for (name, _) in LEFT_OUT {
        assert!(
            names.contains(*name),
            "{name} is not a liburing 2.15 helper"
        );
        assert!(
            !compared(name),
            "{name} has a case now: drop it from LEFT_OUT"
        );
    }
    eprintln!(
        "liburing 2.15: {} prep helpers, {} compared, {} left out",
        names.len(),
        names.len() - LEFT_OUT.len(),
        LEFT_OUT.len()
    );
}
