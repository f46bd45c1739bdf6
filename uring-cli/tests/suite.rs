//! bench/suite.sh: every comparison of the benchmark suite runs and is summarised, in a
//! run cut to the bone (one size, 0.05 s cells, two rounds, without liburing's example,
//! which needs gcc and liburing-dev). Timing is never asserted: only that every ratio is
//! printed, and that bad arguments are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{netns_unavailable, run, text};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/suite.sh")
}

fn suite(args: &[&str]) -> std::process::Output {
    run(
        Command::new("bash")
            .arg(script())
            .args(args)
            .env("URING_BIN", env!("CARGO_BIN_EXE_uring")),
        Duration::from_secs(150),
    )
}

#[test]
fn the_suite_prints_every_ratio() {
    let out = suite(&["-t", "0.05", "-r", "2", "-L", "1400", "-D", "1400", "-x"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("round 2 of 2"), "{stdout}");
    assert!(stdout.contains("left out: liburing (-x)"), "{stdout}");
    let row = |label: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no row {label:?} in:\n{stdout}"))
            .to_string()
    };
    let drop = netns_unavailable().is_none();
    for section in ["TCP loopback", "UDP drop path"] {
        let header = format!("safe layer / raw loop, {section}");
        if section == "UDP drop path" && !drop {
            assert!(stdout.contains("left out: the drop path"), "{stdout}");
            assert!(!stdout.contains(&header), "{stdout}");
            continue;
        }
        assert!(stdout.contains(&header), "{stdout}");
        let auto = format!("auto / the better of safe send and safe zc-fixed, {section}");
        assert!(stdout.contains(&auto), "{stdout}");
    }
    // Rows: label, two medians, the ratio, the per-round ratio, the target.
    for label in ["send 1400 B", "zc-fixed 1400 B", "auto 1400 B"] {
        let r = row(label);
        let numbers: Vec<f64> = r
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        // "send 1400 B a b ratio per >= target": 1400, a, b, ratio, per-round, target.
        assert_eq!(numbers.len(), 6, "{r}");
        assert!(numbers[1] > 0.0 && numbers[2] > 0.0, "{r}");
        assert!((numbers[3] - numbers[1] / numbers[2]).abs() < 0.01, "{r}");
    }
    // On the drop path, the sender's CPU per buffer with its user-space part, and the
    // ratio that would follow if only that part differed.
    if drop {
        let (_, part) = stdout
            .split_once("sender CPU per buffer on the UDP drop path")
            .unwrap_or_else(|| panic!("no CPU section in:\n{stdout}"));
        let line = part
            .lines()
            .find(|l| l.trim_start().starts_with("zc-fixed 1400 B"))
            .unwrap_or_else(|| panic!("no zc-fixed row in:\n{part}"));
        let numbers: Vec<f64> = line
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .filter_map(|w| w.parse().ok())
            .collect();
        // 1400, safe cpu, safe user, raw cpu, raw user, expected.
        assert_eq!(numbers.len(), 6, "{line}");
        assert!(
            numbers[1] > 0.0 && numbers[3] > 0.0 && numbers[5] > 0.0,
            "{line}"
        );
        assert!(
            numbers[2] <= numbers[1] && numbers[4] <= numbers[3],
            "{line}"
        );
    }
    // auto is compared with one mode, chosen over the run, and says which.
    let auto = row("auto 1400 B");
    assert!(
        auto.contains("(vs send)") || auto.contains("(vs zc-fixed)"),
        "{auto}"
    );
}

#[test]
fn the_suite_refuses_bad_arguments() {
    for args in [&["-r", "0"][..], &["-t", "soon"], &["-q"]] {
        let out = suite(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
}
