//! `uring bench`: the loopback sweep (table, JSON, plot), UDP, IPv6, `--listen`/`--to`, and
//! `bench nop`. Durations are short (0.2 s per cell): the tests check shape and
//! consistency, never speed.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{finish, port_of, run, scratch, text, uring, Lines};

/// The default table: the raw modes, and `auto` (the safe layer's adaptive policy).
const MODES: [&str; 5] = ["send", "zc", "zc-fixed", "sendmsg-zc", "auto"];
const TCP_SIZES: [u64; 5] = [1400, 4096, 16384, 65000, 262144];
const UDP_SIZES: [u64; 4] = [1400, 4096, 16384, 65000];

fn json_run(args: &[&str]) -> serde_json::Value {
    let out = run(uring().arg("bench").args(args), Duration::from_secs(120));
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", text(&out.stdout)))
}

/// Every (mode, size) cell is present once, moved bytes, and has consistent derived fields.
/// With `safe_run`, every cell ran through the safe layer (`--api safe`); otherwise only
/// `auto` does.
fn check_cells(v: &serde_json::Value, modes: &[&str], sizes: &[u64], udp: bool, safe_run: bool) {
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), modes.len() * sizes.len(), "{v:#}");
    for m in modes {
        for s in sizes {
            let c = common::cell(v, m, *s);
            let sent = c["bytes_sent"].as_u64().unwrap();
            let received = c["bytes_received"].as_u64().unwrap();
            assert!(sent > 0, "{c}");
            if udp {
                assert!(received > 0 && received <= sent, "{c}");
            } else {
                // TCP: our receiver reads to EOF, so it got every byte the sender sent.
                assert_eq!(received, sent, "{c}");
            }
            assert!(c["mb_per_s"].as_f64().unwrap() > 0.0, "{c}");
            let cpu = c["sender_cpu_s_per_gb"]
                .as_f64()
                .expect("sender_cpu_s_per_gb");
            // Its user-space part, from the same reading: never more than the whole.
            let user = c["sender_user_s_per_gb"]
                .as_f64()
                .expect("sender_user_s_per_gb");
            assert!((0.0..=cpu).contains(&user), "{c}");
            assert!(c["receiver_cpu_s_per_gb"].as_f64().is_some(), "{c}");
            let speedup = c["speedup_vs_send"].as_f64().expect("speed-up");
            let requests = c["requests"].as_u64().unwrap();
            let notifs = c["zc_notifs"].as_u64().unwrap();
            let safe = c["api"] == "safe";
            assert_eq!(safe, *m == "auto" || safe_run, "{c}");
            // The raw loop counts its waits for notifications; plain send and the safe
            // layer (which waits inside `send`) have none.
            let waits = c["zc_notif_waits"].as_u64().expect("zc_notif_waits");
            let wait_s = c["zc_notif_wait_s"].as_f64().expect("zc_notif_wait_s");
            assert!(wait_s >= 0.0, "{c}");
            if safe || *m == "send" {
                assert_eq!((waits, wait_s), (0, 0.0), "{c}");
            }
            // The safe layer says which share of its buffers went zero-copy, and `auto`
            // what its policy chose for this size.
            if safe {
                assert!(c["buffers_returned"].as_u64().unwrap() > 0, "{c}");
                let share = c["zero_copy_share"].as_f64().expect("zero_copy_share");
                assert!((0.0..=1.0).contains(&share), "{c}");
                if *m == "send" {
                    assert_eq!(share, 0.0, "{c}");
                }
            } else {
                assert!(c["zero_copy_share"].is_null(), "{c}");
            }
            if *m == "auto" {
                let path = c["adaptive_path"].as_str().expect("adaptive_path");
                if !udp {
                    // TCP loopback: the kernel copies, so plain.
                    assert!(path.starts_with("plain (kernel copies)"), "{c}");
                }
            } else {
                assert!(c["adaptive_path"].is_null(), "{c}");
            }
            if *m == "send" {
                assert!((speedup - 1.0).abs() < 1e-9, "{c}");
                assert!(c["copied_share"].is_null(), "{c}");
                assert_eq!(notifs, 0, "{c}");
            } else if safe {
                // The safe layer: `requests` counts every request it submitted (a short
                // send's continuation is one more); every zero-copy request notifies once
                // at most, and the sender returned every buffer only after its
                // notifications. `auto` sends zero-copy only until the kernel reports
                // copying (loopback) and then for a probe now and then, so it may have
                // few notifications, or none.
                assert!(notifs <= requests, "{c}");
                if *m != "auto" {
                    assert!(notifs > 0, "{c}");
                }
                if notifs > 0 {
                    let share = c["copied_share"].as_f64().expect("copied share");
                    assert!((0.0..=1.0).contains(&share), "{c}");
                }
            } else {
                // Every zero-copy request notified (the sender drains before reporting);
                // requests that failed softly (EAGAIN/ENOBUFS on UDP) may notify too.
                let soft = c["soft_errors"].as_u64().unwrap();
                assert!(requests <= notifs && notifs <= requests + soft, "{c}");
                let share = c["copied_share"].as_f64().expect("copied share");
                assert!((0.0..=1.0).contains(&share), "{c}");
            }
        }
    }
}

#[test]
fn default_sweep_json_has_all_modes_and_sizes() {
    let v = json_run(&["--duration", "0.2", "--json"]);
    assert_eq!(v["transport"], "tcp");
    assert_eq!(v["family"], "ipv4");
    assert_eq!(v["path"], "loopback");
    check_cells(&v, &MODES, &TCP_SIZES, false, false);
}

#[test]
fn udp_to_an_address_nobody_listens_on() {
    // Port 9 on loopback: no receiver. Every mode sends all the same; the ICMP port
    // unreachable that comes back refuses some datagrams (counted, not fatal).
    let v = json_run(&[
        "--udp",
        "--to",
        "127.0.0.1:9",
        "--mode",
        "send,zc,zc-fixed,sendmsg-zc,auto",
        "--size",
        "1400,65000",
        "--duration",
        "0.2",
        "--json",
    ]);
    assert_eq!(v["transport"], "udp");
    assert_eq!(v["path"], "loopback");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 10, "{v:#}");
    for c in results {
        assert!(c["requests"].as_u64().unwrap() > 0, "{c}");
        assert!(c["bytes_sent"].as_u64().unwrap() > 0, "{c}");
        assert!(c["bytes_received"].is_null(), "{c}");
        assert!(c["mb_per_s"].as_f64().unwrap() > 0.0, "{c}");
    }
    // IPv6 too, through the safe layer.
    let v = json_run(&[
        "--udp",
        "--to",
        "[::1]:9",
        "--api",
        "safe",
        "--mode",
        "send,sendmsg-zc",
        "--size",
        "4096",
        "--duration",
        "0.2",
        "--json",
    ]);
    assert_eq!(v["family"], "ipv6");
    for c in v["results"].as_array().expect("results") {
        assert!(c["requests"].as_u64().unwrap() > 0, "{c}");
    }
}

#[test]
fn default_sweep_table_has_all_modes_and_sizes() {
    let out = run(
        uring().args(["bench", "--duration", "0.2"]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout
        .lines()
        .find(|l| l.starts_with("mode"))
        .unwrap_or_else(|| panic!("no header in:\n{stdout}"));
    for col in ["MB/s", "snd s/GB", "rcv s/GB", "copied", "vs send"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        stdout.starts_with("uring bench: tcp over ipv4 (path loopback)"),
        "{stdout}"
    );
    for m in MODES {
        for s in TCP_SIZES {
            let row = stdout
                .lines()
                .find(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.first() == Some(&m) && f.get(2) == Some(&s.to_string().as_str())
                })
                .unwrap_or_else(|| panic!("no row {m} {s} in:\n{stdout}"));
            let f: Vec<&str> = row.split_whitespace().collect();
            let mbps: f64 = f[3].parse().expect("MB/s is a number");
            assert!(mbps > 0.0, "{row}");
            assert!(f.last().unwrap().ends_with('x'), "{row}");
        }
    }
}

#[test]
fn udp_sweep_and_plot() {
    let dir = scratch("udp_sweep_and_plot");
    let svg = dir.join("udp.svg");
    let v = json_run(&[
        "--udp",
        "--duration",
        "0.2",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(v["transport"], "udp");
    check_cells(&v, &MODES, &UDP_SIZES, true, false);
    let doc = std::fs::read_to_string(&svg).expect("plot written");
    assert!(doc.starts_with("<svg"), "{}", &doc[..doc.len().min(200)]);
    for m in MODES {
        // Each mode is a legend entry: a text element of its own.
        assert!(
            doc.lines().any(|l| l.trim() == m),
            "no legend entry {m} in the plot"
        );
    }
    assert!(doc.contains("payload size (bytes per send)"));
    assert!(doc.contains("MB/s (10^6 B/s)"));
    // A tick with its label at every measured size.
    for size in UDP_SIZES {
        assert!(
            svg_texts(&doc).contains(&size.to_string()),
            "no tick label {size} in the plot"
        );
    }
}

/// The text elements of an SVG document written by plotters (one per line).
fn svg_texts(doc: &str) -> Vec<String> {
    let lines: Vec<&str> = doc.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim_start().starts_with("<text"))
        .map(|w| w[1].trim().to_string())
        .collect()
}

/// Checks one cell's rounds: `n` of them, the rate their median, min and max around it.
fn check_rounds(c: &serde_json::Value, n: usize) {
    let rates: Vec<f64> = c["mb_per_s_rounds"]
        .as_array()
        .unwrap_or_else(|| panic!("no rounds in {c}"))
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    assert_eq!(rates.len(), n, "{c}");
    assert_eq!(c["rounds"].as_u64(), Some(n as u64), "{c}");
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(c["mb_per_s"].as_f64().unwrap(), median), "{c}");
    assert!(close(c["mb_per_s_min"].as_f64().unwrap(), sorted[0]), "{c}");
    assert!(
        close(c["mb_per_s_max"].as_f64().unwrap(), sorted[n - 1]),
        "{c}"
    );
    assert!(rates.iter().all(|&r| r > 0.0), "{c}");
}

#[test]
fn repeat_reports_median_min_max_and_plots_bars() {
    let dir = scratch("repeat_reports_median_min_max_and_plots_bars");
    let svg = dir.join("repeat.svg");
    let v = json_run(&[
        "--mode",
        "send,zc-fixed",
        "--size",
        "4096,65000",
        "--duration",
        "0.1",
        "--repeat",
        "3",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(v["repeat"], 3);
    check_cells(&v, &["send", "zc-fixed"], &[4096, 65000], false, false);
    for c in v["results"].as_array().unwrap() {
        check_rounds(c, 3);
    }
    let doc = std::fs::read_to_string(&svg).expect("plot written");
    let texts = svg_texts(&doc);
    for t in ["4096", "65000", "send", "zc-fixed"] {
        assert!(
            texts.iter().any(|x| x == t),
            "no text {t:?} in the plot: {texts:?}"
        );
    }
    assert!(
        texts
            .iter()
            .any(|x| x.contains("median of 3 rounds, bar min-max")),
        "{texts:?}"
    );

    // The table: min and max columns beside the median; an even count of rounds.
    let out = run(
        uring().args([
            "bench",
            "--mode",
            "send",
            "--size",
            "1400",
            "--duration",
            "0.1",
            "--repeat",
            "2",
        ]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().find(|l| l.starts_with("mode")).unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(&cols[3..6], ["MB/s", "min", "max"], "{header}");
    let row: Vec<f64> = stdout
        .lines()
        .find(|l| l.starts_with("send "))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .take(3)
        .map(|f| f.parse().unwrap())
        .collect();
    assert!(row[1] <= row[0] && row[0] <= row[2], "{stdout}");
    assert!(stdout.contains("x 2 rounds"), "{stdout}");
}

#[test]
fn single_size_plot_labels_every_point() {
    let dir = scratch("single_size_plot_labels_every_point");
    let svg = dir.join("one.svg");
    let v = json_run(&[
        "--udp",
        "--mode",
        "send,zc,zc-fixed",
        "--size",
        "16000",
        "--duration",
        "0.1",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let doc = std::fs::read_to_string(&svg).expect("plot written");
    let texts = svg_texts(&doc);
    assert!(
        texts.iter().any(|t| t == "16000"),
        "no tick at the size: {texts:?}"
    );
    for c in v["results"].as_array().unwrap() {
        // Each point says what it is and its value, as the table prints it (rounded).
        let label = format!(
            "{}: {:.0} MB/s",
            c["mode"].as_str().unwrap(),
            c["mb_per_s"].as_f64().unwrap()
        );
        assert!(
            texts.contains(&label),
            "no point label {label:?}: {texts:?}"
        );
    }
}

/// The raw loop's ring-side options: every combination runs, moves every byte, and the JSON
/// says which ring it ran with (the table's header line too).
#[test]
fn raw_ring_options_run_and_are_reported() {
    let cases: [(&[&str], &str, bool); 5] = [
        (&[], "COOP_TASKRUN", true),
        (
            &["--taskrun", "defer", "--reap", "wait"],
            "DEFER_TASKRUN",
            true,
        ),
        (&["--taskrun", "plain", "--no-ring-fd"], "", false),
        (
            &[
                "--taskrun",
                "defer",
                "--notif-slack",
                "9",
                "--sq-entries",
                "16",
            ],
            "DEFER_TASKRUN",
            true,
        ),
        (
            &["--poll-first", "--reap", "wait", "--wait-one"],
            "COOP_TASKRUN",
            true,
        ),
    ];
    for (extra, flag, ring_fd) in cases {
        let mut args = vec![
            "--mode",
            "send,zc-fixed",
            "--size",
            "65000",
            "--duration",
            "0.2",
            "--fixed-file",
            "--json",
        ];
        args.extend_from_slice(extra);
        let v = json_run(&args);
        check_cells(&v, &["send", "zc-fixed"], &[65000], false, false);
        let asked = &v["raw_tuning"];
        assert_eq!(
            asked["poll_first"],
            extra.contains(&"--poll-first"),
            "{asked}"
        );
        for c in v["results"].as_array().unwrap() {
            let ring = &c["ring"];
            let flags = ring["setup_flags"].as_str().expect("setup_flags");
            if flag.is_empty() {
                assert!(!flags.contains("TASKRUN"), "{extra:?}: {ring}");
            } else {
                assert!(flags.contains(flag), "{extra:?}: {ring}");
                assert!(flags.contains("SINGLE_ISSUER"), "{extra:?}: {ring}");
            }
            assert_eq!(ring["ring_fd_registered"], ring_fd, "{extra:?}: {ring}");
            let slack = ring["notif_slack"].as_u64().unwrap();
            let cq = ring["cq_entries"].as_u64().unwrap();
            // The CQ holds every notification the slack allows and a batch.
            assert!(cq >= slack + 8, "{ring}");
            if extra.contains(&"--notif-slack") {
                assert_eq!(slack, 9, "{ring}");
                assert_eq!(ring["sq_entries"], 16, "{ring}");
            }
        }
    }
    // The table names the ring in one line under its header.
    let out = run(
        uring().args([
            "bench",
            "--mode",
            "zc-fixed",
            "--size",
            "65000",
            "--duration",
            "0.2",
            "--taskrun",
            "defer",
        ]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("raw loop: ring "))
        .unwrap_or_else(|| panic!("no ring line in:\n{stdout}"));
    assert!(
        line.contains("DEFER_TASKRUN") && line.contains("reap peek"),
        "{line}"
    );
    // Out of range: refused with a usage error, not a panic.
    for bad in [
        &["--notif-slack", "0"][..],
        &["--sq-entries", "0"],
        &["--taskrun", "often"],
    ] {
        let out = run(uring().arg("bench").args(bad), Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
}

#[test]
fn ipv6_loopback() {
    let v = json_run(&[
        "-6",
        "--mode",
        "send,zc-fixed",
        "--sizes",
        "4096,65000",
        "--duration",
        "0.2",
        "--json",
        "--fixed-file",
        "--waitall",
    ]);
    assert_eq!(v["family"], "ipv6");
    assert_eq!(v["fixed_file"], true);
    check_cells(&v, &["send", "zc-fixed"], &[4096, 65000], false, false);
}

#[test]
fn safe_api_sweep() {
    // Every mode of the safe layer over TCP (sendmsg-zc is datagram-only there) ...
    let v = json_run(&[
        "--api",
        "safe",
        "--mode",
        "send,zc,zc-fixed,auto",
        "--sizes",
        "4096,65000",
        "--duration",
        "0.2",
        "--json",
    ]);
    check_cells(
        &v,
        &["send", "zc", "zc-fixed", "auto"],
        &[4096, 65000],
        false,
        true,
    );
    // ... and over UDP, where sendmsg-zc sends each datagram to the peer's address.
    let v = json_run(&[
        "--udp",
        "--api",
        "safe",
        "--mode",
        "send,sendmsg-zc,zc-fixed",
        "--sizes",
        "1400,65000",
        "--duration",
        "0.2",
        "--json",
    ]);
    check_cells(
        &v,
        &["send", "sendmsg-zc", "zc-fixed"],
        &[1400, 65000],
        true,
        true,
    );
}

#[test]
fn pinned_sender_and_receiver() {
    // Every CPU this test may run on; the sender on the first, the receiver on the last
    // (the same one on a one-CPU machine). The run checks that each pin took.
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_string();
    let cpus: Vec<usize> = list
        .split(',')
        .flat_map(|r| match r.split_once('-') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<usize>>(),
            None => vec![r.parse().unwrap()],
        })
        .collect();
    let (s, r) = (cpus[0], cpus[cpus.len() - 1]);
    let pin = format!("{s},{r}");
    for udp in [false, true] {
        let mut args = vec![
            "--pin",
            &pin,
            "--mode",
            "send,zc-fixed",
            "--sizes",
            "4096",
            "--duration",
            "0.2",
            "--json",
        ];
        if udp {
            args.push("--udp");
        }
        let v = json_run(&args);
        assert_eq!(v["pin_sender"].as_u64(), Some(s as u64), "{v:#}");
        assert_eq!(v["pin_receiver"].as_u64(), Some(r as u64), "{v:#}");
        check_cells(&v, &["send", "zc-fixed"], &[4096], udp, false);
    }
    // Unpinned, the report says so.
    let v = json_run(&[
        "--mode",
        "send",
        "--sizes",
        "4096",
        "--duration",
        "0.1",
        "--json",
    ]);
    assert!(
        v["pin_sender"].is_null() && v["pin_receiver"].is_null(),
        "{v:#}"
    );
}

#[test]
fn listen_and_to_pair() {
    let mut sink = uring()
        .args(["bench", "--listen", "127.0.0.1:0", "--count", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sink");
    let mut lines = Lines::stdout(&mut sink);
    let port = port_of(&lines.find("listening on", Duration::from_secs(20)));
    let target = format!("127.0.0.1:{port}");

    let mut sent = Vec::new();
    for (mode, extra) in [
        ("zc-fixed", "--fixed-file"),
        ("send", "--waitall"),
        ("zc-fixed", "--api=safe"),
    ] {
        let out = run(
            uring().args([
                "bench",
                "--to",
                &target,
                "--mode",
                mode,
                "--size",
                "65000",
                "--inflight",
                "8",
                "--duration",
                "0.3",
                extra,
            ]),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let line = stdout.lines().next().expect("one result line");
        assert!(
            line.starts_with(&format!("to {target} tcp/ipv4 {mode} size 65000")),
            "{line}"
        );
        assert!(line.contains("MB/s"), "{line}");
        assert_eq!(line.contains("safe-api"), extra == "--api=safe", "{line}");
        let bytes: u64 = line
            .split(", ")
            .find_map(|p| {
                p.strip_suffix(" s")
                    .and_then(|p| p.split(" bytes in ").next())
            })
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| panic!("no byte count in {line}"));
        assert!(bytes > 0);
        sent.push(bytes);
    }
    let status = common::wait_bounded(&mut sink, Duration::from_secs(20));
    assert!(status.success(), "the sink should exit 0 after --count 3");
    let conns: Vec<String> = lines
        .rest(Duration::from_secs(5))
        .into_iter()
        .filter(|l| l.starts_with("conn "))
        .collect();
    // The sink counted exactly what each sender sent (in some order of connections).
    let mut received: Vec<u64> = conns
        .iter()
        .map(|l| {
            l.split(": ")
                .nth(1)
                .and_then(|r| r.split(" bytes").next())
                .and_then(|b| b.parse().ok())
                .unwrap_or_else(|| panic!("no byte count in {l}"))
        })
        .collect();
    received.sort_unstable();
    sent.sort_unstable();
    assert_eq!(received, sent, "{conns:?}");
}

#[test]
fn nop_round_trips() {
    // Reaped by copying the completions out, and in place.
    for (extra, label) in [(None, ""), (Some("--in-place"), " (in place)")] {
        let out = finish(
            uring()
                .args(["bench", "nop", "--ops", "100000", "--batch", "32"])
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn"),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("nop: 100000 ops in batches of 32{label}:")),
            "{stdout}"
        );
        let ns: f64 = stdout
            .split(", ")
            .find_map(|p| p.strip_suffix(" ns/op"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no ns/op in {stdout}"));
        assert!(ns > 0.0);
    }
}

/// Starts `uring bench ARGS`, waits until it has reported its first completed cell on
/// stderr, sends it SIGINT, and returns its exit status, stdout and stderr lines.
fn interrupt_after_first_cell(args: &[&str]) -> (std::process::ExitStatus, String, Vec<String>) {
    let mut child = uring()
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bench");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let mut err = Lines::stderr(&mut child);
    // Waits on the child's output (bounded), never on a timer.
    err.find("cell 1/", Duration::from_secs(60));
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .expect("kill -INT");
    let status = common::wait_bounded(&mut child, Duration::from_secs(60));
    let stdout = reader.join().unwrap().expect("read stdout");
    (status, stdout, err.rest(Duration::from_secs(5)))
}

#[test]
fn ctrl_c_still_prints_the_cells_measured() {
    // Three cells of 3 s each; SIGINT comes while the second one runs.
    let dir = scratch("ctrl_c_still_prints_the_cells_measured");
    let svg = dir.join("partial.svg");
    let (status, stdout, err) = interrupt_after_first_cell(&[
        "--mode",
        "send,zc,zc-fixed",
        "--size",
        "65000",
        "--duration",
        "3",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(130), "{stdout}\n{err:#?}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("65000"))
        .collect();
    assert!(!rows.is_empty() && rows.len() < 3, "{stdout}");
    assert!(rows[0].starts_with("send "), "{stdout}");
    assert!(
        !stdout.contains("zc-fixed"),
        "the third cell never ran: {stdout}"
    );
    assert!(
        err.iter().any(|l| l.starts_with("interrupted: ")),
        "{err:#?}"
    );
    assert!(!err.iter().any(|l| l.contains("panicked")), "{err:#?}");
    let doc = std::fs::read_to_string(&svg).expect("plot of the measured cells");
    assert!(doc.starts_with("<svg"));

    // The JSON says so, and holds the completed cells (the safe layer, over UDP).
    let (status, stdout, err) = interrupt_after_first_cell(&[
        "--udp",
        "--api",
        "safe",
        "--mode",
        "zc-fixed,send,zc",
        "--size",
        "16384",
        "--duration",
        "3",
        "--json",
    ]);
    assert_eq!(status.code(), Some(130), "{stdout}\n{err:#?}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("invalid JSON ({e}): {stdout}"));
    assert_eq!(v["interrupted"], true, "{v:#}");
    let results = v["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() < 3, "{v:#}");
    assert_eq!(results[0]["mode"], "zc-fixed", "{v:#}");
    assert!(results[0]["bytes_sent"].as_u64().unwrap() > 0, "{v:#}");
}
