//! The server's record bodies are held to the number rule of the command
//! line (D44): over a real loopback socket, to `jishi serve`, a number whose
//! value canonicalisation would change is a 400 naming the field, and
//! nothing is written; the same body with the number spelt exactly records.

mod common;

use std::process::{Command, Stdio};

use common::{jishi, text};

#[tokio::test]
async fn a_record_body_with_a_number_that_would_change_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    assert!(jishi(&db, &["init"], None).status.success());
    let out = jishi(
        &db,
        &[
            "user",
            "add",
            "adm",
            "--role",
            "admin",
            "--org",
            "天元区",
            "--acts-as",
            "organisation_department",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_jishi"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/api/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "jishi serve did not start");
    let body = |ratio: &str| {
        format!(
            r#"{{"election_id":"天元区:qingshan-2026","occurred_at":"2021-03-01T09:00:00+08:00",
            "unit_id":"qingshan","unit_name":"青山镇","unit_org":"天元区/青山镇",
            "body":"镇党委委员","kind":"township_party_committee","seats":7,
            "term":"2021-2026","last_term_differential_ratio":{ratio}}}"#
        )
    };
    let post = |b: String| {
        http.post(format!("{base}/api/record/election.opened"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(b)
            .send()
    };
    let head = || String::from_utf8(jishi(&db, &["head", "--json"], None).stdout).unwrap();
    let before = head();
    let refused = post(body("1e-400")).await.unwrap();
    let status = refused.status().as_u16();
    let answer = refused.text().await.unwrap();
    assert_eq!(head(), before, "a refused body moved the head: {answer}");
    let accepted = post(body("2.0e-1")).await.unwrap();
    let accepted_status = accepted.status().as_u16();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("last_term_differential_ratio"), "{answer}");
    assert!(answer.contains("would be stored as 0"), "{answer}");
    assert_eq!(accepted_status, 201);
}
