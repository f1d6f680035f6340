//! Issue 16, item 7: the inspector's queries, served and on the command
//! line (domain decision 31): the joint-review matrix, deferrals, the
//! supervision group's coverage and a unit across elections. Each is
//! scoped like the election it reads: out of scope answers as absent.

mod common;

use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queries_are_served_in_scope_and_on_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("d.db");
    let d = db.clone();
    let out = tokio::task::spawn_blocking(move || common::jishi(&d, &["demo"], None))
        .await
        .expect("demo");
    assert!(out.status.success(), "{}", common::text(&out));

    // The command line first.
    let d = db.clone();
    let cli = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let o = common::jishi(&d, args, None);
            assert!(o.status.success(), "{args:?}: {}", common::text(&o));
            serde_json::from_slice::<Value>(&o.stdout).expect("json")
        };
        (
            run(&["joint-review", "qingshan-dbxj-2021", "--json"]),
            run(&["deferrals", "qingshan-2021", "--json"]),
            run(&["unit", "qingshan", "--json"]),
        )
    })
    .await
    .expect("cli");
    let (matrix, deferrals, unit) = cli;
    // 上查一级 (domain decision 33) of the demo's planted vote buying.
    let d = db.clone();
    let (bought_in, bought_by, up) = tokio::task::spawn_blocking(move || {
        let o = common::jishi(&d, &["log", "--json", "--limit", "0"], None);
        let log = String::from_utf8_lossy(&o.stdout).into_owned();
        let stream = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["event_type"] == "finding.vote_buying")
            .and_then(|e| e["stream"].as_str().map(str::to_string))
            .expect("the demo plants vote buying");
        let parts: Vec<&str> = stream.split('/').collect();
        let (e, c) = (parts[1].to_string(), parts[3].to_string());
        let o = common::jishi(&d, &["up-one-level", &c, "--election", &e, "--json"], None);
        assert!(o.status.success(), "{}", common::text(&o));
        let up: Value = serde_json::from_slice(&o.stdout).expect("json");
        (e, c, up)
    })
    .await
    .expect("cli");
    assert_eq!(
        up["breaches"][0]["event_type"], "finding.vote_buying",
        "{up}"
    );
    let above: Vec<&str> = up["above"]
        .as_array()
        .expect("above")
        .iter()
        .filter_map(|o| o["duty"].as_str())
        .collect();
    for duty in ["chair", "meeting", "approval", "organisation"] {
        assert!(above.contains(&duty), "{duty}: {above:?}");
    }
    assert_eq!(matrix["departments"].as_array().map(Vec::len), Some(17));
    assert_eq!(matrix["rows"].as_array().map(Vec::len), Some(4));
    let open: Vec<&Value> = deferrals
        .as_array()
        .expect("list")
        .iter()
        .filter(|d| d["ended"].is_null())
        .collect();
    assert_eq!(open.len(), 1, "{deferrals}");
    assert_eq!(unit.as_array().map(Vec::len), Some(1));
    assert_eq!(unit[0]["election_id"], "qingshan-2021");

    // Served, to an investigator, a recorder of the district and one of
    // another district.
    let tokens = common::browser::add_users(
        &db,
        &[
            ("inv", "investigator", "市纪委"),
            ("rec", "recorder", "天元区"),
            ("far", "recorder", "河东区"),
        ],
    )
    .await;
    // The server records reads with the demo's recording key.
    let base = common::server::serve_ledger(&db).await;
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = http.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    for token in [&tokens[0], &tokens[1]] {
        let r = get(
            "/api/elections/qingshan-dbxj-2021/joint-review",
            Some(token),
        )
        .await
        .expect("get");
        assert_eq!(r.status(), 200);
        let served: Value = r.json().await.expect("json");
        assert_eq!(served, matrix, "the server and the CLI give one matrix");
        let r = get("/api/elections/qingshan-2021/deferrals", Some(token))
            .await
            .expect("get");
        assert_eq!(r.json::<Value>().await.expect("json"), deferrals);
        let r = get("/api/elections/qingshan-2021/supervision", Some(token))
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
        let cov: Value = r.json().await.expect("json");
        assert!(
            cov["steps"].as_array().is_some_and(|s| !s.is_empty()),
            "{cov}"
        );
        let r = get("/api/units/qingshan", Some(token)).await.expect("get");
        assert_eq!(r.json::<Value>().await.expect("json"), unit);
    }
    let path = format!("/api/elections/{bought_in}/candidates/{bought_by}/up-one-level");
    let r = get(&path, Some(&tokens[0])).await.expect("get");
    let status = r.status();
    let served: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "{served}");
    assert_eq!(served["up_one_level"], up, "the server and the CLI agree");
    assert!(
        served["recorded_read_at"].as_u64().is_some(),
        "a recorded read"
    );
    let r = get(&path, Some(&tokens[2])).await.expect("get");
    assert_eq!(r.status(), 404, "another district's recorder");
    let r = get(&path, None).await.expect("get");
    assert_eq!(r.status(), 401);
    // As of the position before the first review, nobody is reviewed yet.
    let first = matrix["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["position"].as_u64())
        .min()
        .expect("a review");
    let r = get(
        &format!(
            "/api/elections/qingshan-dbxj-2021/joint-review?as_of={}",
            first - 1
        ),
        Some(&tokens[0]),
    )
    .await
    .expect("get");
    let early: Value = r.json().await.expect("json");
    assert_eq!(early["rows"].as_array().map(Vec::len), Some(0), "{early}");
    // Another district's recorder: every one answers as absent.
    for path in [
        "/api/elections/qingshan-dbxj-2021/joint-review",
        "/api/elections/qingshan-2021/deferrals",
        "/api/elections/qingshan-2021/supervision",
        "/api/units/qingshan",
    ] {
        let r = get(path, Some(&tokens[2])).await.expect("get");
        assert_eq!(r.status(), 404, "{path}");
        let r = get(path, None).await.expect("get");
        assert_eq!(r.status(), 401, "{path}");
    }
}
