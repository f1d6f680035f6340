//! Several `jishi` processes appending to one SQLite file at once: the write
//! lock is taken before the head is read, so the chain never forks and no
//! position is skipped or used twice.

mod common;

use common::{jishi, text};

#[test]
fn concurrent_processes_keep_one_gapless_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    assert!(jishi(&db, &["init"], None).status.success());
    let actor = r#"{"id":"u1","name":"张伟","role":"organisation_department","org":"天元区"}"#;
    let files: Vec<_> = (0..4)
        .map(|p| {
            let path = dir.path().join(format!("p{p}.jsonl"));
            let lines: String = (0..150)
                .map(|i| {
                    format!(
                        "{{\"stream\":\"book/p{p}-{}\",\"event_type\":\"candidate.nominated\",\"payload\":{{\"i\":{i}}},\"actor\":{actor}}}\n",
                        i % 7
                    )
                })
                .collect();
            std::fs::write(&path, lines).unwrap();
            path
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
                .arg("--db")
                .arg(&db)
                .args(["import", f.to_str().unwrap(), "--batch-size", "5"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = jishi(&db, &["verify"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("ok: 601 events verified"),
        "{}",
        text(&out)
    );
}
