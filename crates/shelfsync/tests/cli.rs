//! The binary as a user runs it: import a Shopify CSV, export it, import again.

use std::process::Command;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../csv/tests/fixtures/shopify-sample.csv"
);

fn shelfsync(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shelfsync"));
    command
        .env("SHELFSYNC_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn");
    command
}

#[test]
fn import_reports_bad_rows_and_keeps_good_ones_then_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let output = shelfsync(dir.path())
        .args(["import", SAMPLE])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "bad rows make the exit status non-zero"
    );
    assert!(
        stdout.contains("imported 3 products from 12 rows"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 8: variant BP-1: Variant Price `12.3.4`"),
        "{stdout}"
    );
    assert!(stdout.contains("line 14: missing Handle"), "{stdout}");
    assert!(stdout.contains("warning: line 11"), "{stdout}");
    assert!(stderr.contains("6 problems"), "{stderr}");

    let exported = dir.path().join("export.csv");
    let output = shelfsync(dir.path())
        .args(["export", "-o"])
        .arg(&exported)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = std::fs::read_to_string(&exported).unwrap();
    assert!(csv.starts_with("Handle,Title,Body (HTML)"));
    assert!(csv.contains("TEE-M-RED") && csv.contains("MUG-1") && csv.contains("HG-L"));
    assert!(!csv.contains("BP-1"), "refused rows were never imported");

    // The export imports cleanly, and changes nothing.
    let output = shelfsync(dir.path())
        .arg("import")
        .arg(&exported)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("0 created, 0 updated, 3 unchanged"),
        "{stdout}"
    );
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = shelfsync(dir.path())
        .args(["import", "no-such-file.csv"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open no-such-file.csv"));
}

#[test]
fn a_bad_bootstrap_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = shelfsync(dir.path())
        .arg("serve")
        .env("SHELFSYNC_LISTEN", "127.0.0.1:0")
        .env("SHELFSYNC_BOOTSTRAP_API_KEY", "short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SHELFSYNC_BOOTSTRAP_API_KEY must start with `ssk_`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("short"),
        "the configured secret is not echoed"
    );
}

#[test]
fn a_worker_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = shelfsync(dir.path())
        .args(["worker", "--only", "outbox,sync"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("running: outbox, sync"), "{line}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let output = shelfsync(dir.path()).arg("queue").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.contains("[sync,outbox]") && stdout.contains("stopped"),
        "the stop is recorded: {stdout}"
    );
}

#[test]
fn an_unknown_worker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = shelfsync(dir.path())
        .args(["worker", "--only", "sink"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unknown worker `sink`"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
