//! `uring probe`: the opcode list, the feature bits, and the tried features.

mod common;

use std::time::Duration;

use common::{run, text, uring};

#[test]
fn probe_lists_send_zc_as_supported_and_tried() {
    let out = run(uring().arg("probe"), Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("SEND_ZC"))
        .unwrap_or_else(|| panic!("no SEND_ZC line in:\n{stdout}"));
    assert!(line.ends_with("supported"), "{line}");
    assert!(line.trim_start().starts_with("47 "), "{line}");
    for tried in [
        "send_zc",
        "report_usage",
        "registered_buffers",
        "buffer_ring",
    ] {
        let l = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(tried))
            .unwrap_or_else(|| panic!("no {tried} trial in:\n{stdout}"));
        assert!(l.contains(" works "), "{l}");
    }
    assert!(stdout.contains("NODROP"), "{stdout}");
}

#[test]
fn probe_json_is_valid_and_complete() {
    let out = run(uring().args(["probe", "--json"]), Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let ops = v["opcodes"].as_array().expect("opcodes");
    let send_zc = ops
        .iter()
        .find(|o| o["name"] == "SEND_ZC")
        .expect("SEND_ZC listed");
    assert_eq!(send_zc["op"], 47);
    assert_eq!(send_zc["supported"], true);
    assert!(ops.iter().any(|o| o["name"] == "NOP" && o["op"] == 0));
    let features = v["features"].as_array().expect("features");
    assert!(features
        .iter()
        .any(|f| f["name"] == "SINGLE_MMAP" && f["present"] == true));
    let tried = v["tried"].as_array().expect("tried");
    for name in [
        "send_zc",
        "report_usage",
        "sendmsg_zc",
        "registered_buffers",
        "buffer_ring",
    ] {
        let t = tried
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(t["works"], true, "{t}");
    }
}
