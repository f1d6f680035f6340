//! A reader that goes away (`jishi log | head -1`) ends the command quietly:
//! exit 0 and no "panicked" on stderr (D45), for every command, because the
//! handling is in `main` and not in each command.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{jishi, text};

fn command(db: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jishi"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("JISHI_DB")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn assert_quiet(what: &str, status: std::process::ExitStatus, stderr: &[u8]) {
    let stderr = String::from_utf8_lossy(stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_ne!(status.code(), Some(101), "{what}: {stderr}");
    assert_eq!(status.code(), Some(0), "{what}: {stderr}");
}

/// Reads one line of stdout, then closes the pipe's read end while the
/// command still has more to write than the pipe buffer (64 KiB) holds.
fn closed_after_one_line(db: &Path, args: &[&str]) {
    let mut child = command(db, args).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "{args:?} wrote nothing");
    drop(reader);
    let out = child.wait_with_output().unwrap();
    assert_quiet(&format!("{args:?}"), out.status, &out.stderr);
}

/// Runs the command with stdout a pipe whose read end is already closed:
/// its first write fails, however little it has to print.
fn closed_before_start(db: &Path, args: &[&str]) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = command(db, args).stdout(writer).output().unwrap();
    assert_quiet(&format!("{args:?}"), out.status, &out.stderr);
}

#[test]
fn a_closed_pipe_ends_each_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = jishi(&db, &["demo"], None);
    assert!(out.status.success(), "{}", text(&out));
    // The demo names its showcase: "(jishi --db … trail c-… --election …)".
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let hint = shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("(jishi --db "))
        .expect("the demo shows a trail command");
    let words: Vec<&str> = hint.trim_end_matches(')').split_whitespace().collect();
    let (candidate, election) = (words[2], words[4]);

    closed_after_one_line(&db, &["log", "--limit", "0"]);
    closed_after_one_line(&db, &["log", "--limit", "0", "--json"]);
    closed_before_start(&db, &["procedure", "show", "township_party_committee"]);
    closed_before_start(&db, &["trail", candidate, "--election", election]);
    closed_before_start(&db, &["log"]);
}
