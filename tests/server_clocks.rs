//! Issue 16, item 4 (domain decision 35): the server cuts a view by either
//! clock, and says which. `as_of_occurred` shows what had happened by a
//! time, whenever recorded, as `--as-of-occurred` does on the command line,
//! and the two agree; the recorded read names the cut; both clocks at once,
//! or a value that is no time, are refused naming the field, and nothing is
//! recorded.

mod common;

use serde_json::Value;

const ELECTION: &str = "qingshan-2021";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clocks_are_served_named_and_agree_with_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("d.db");
    let d = db.clone();
    let out = tokio::task::spawn_blocking(move || common::jishi(&d, &["demo"], None))
        .await
        .expect("demo");
    assert!(out.status.success(), "{}", common::text(&out));
    let tokens = common::browser::add_users(
        &db,
        &[
            ("inv", "investigator", "市纪委"),
            ("far", "recorder", "河东区"),
        ],
    )
    .await;
    let base = common::server::serve_ledger(&db).await;
    let http = reqwest::Client::new();
    let get =
        |path: String, token: &str| http.get(format!("{base}{path}")).bearer_auth(token).send();
    let json = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.expect("json"))
    };

    // A candidate, and a time in the middle of their trail.
    let (_, list) = json(
        get(format!("/api/elections/{ELECTION}/candidates"), &tokens[0])
            .await
            .expect("get"),
    )
    .await;
    let candidate = list[0]["candidate_id"]
        .as_str()
        .expect("a candidate")
        .to_string();
    let trail_path = format!("/api/elections/{ELECTION}/candidates/{candidate}/trail");
    let (status, now) = json(get(trail_path.clone(), &tokens[0]).await.expect("get")).await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(now["clock"], "recorded");
    let rows = now["trail"]["rows"].as_array().expect("rows");
    assert!(rows.len() >= 4, "{now}");
    let time = rows[rows.len() / 2]["occurred_at"]
        .as_str()
        .expect("occurred_at")
        .to_string();
    let q = common::enc(&time);

    // By occurred time: only what had happened, named as such.
    let (status, cut) = json(
        get(format!("{trail_path}?as_of_occurred={q}"), &tokens[0])
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, 200, "{cut}");
    assert_eq!(cut["clock"], "occurred");
    let shown = cut["trail"]["rows"].as_array().expect("rows");
    assert!(!shown.is_empty() && shown.len() < rows.len(), "{cut}");
    let limit = chrono::DateTime::parse_from_rfc3339(&time).expect("time");
    for r in shown {
        let at = chrono::DateTime::parse_from_rfc3339(r["occurred_at"].as_str().expect("at"))
            .expect("rfc 3339");
        assert!(at <= limit, "{r}");
    }
    // The demo recorded everything today, long after 2021: every event
    // shown was recorded only after the time, and the answer says so.
    let c = &cut["as_of_occurred"];
    assert_eq!(
        c["recorded_later"].as_array().map(Vec::len),
        c["shown"].as_u64().map(|n| n as usize),
        "{c}"
    );
    assert!(c["happened_later"].as_u64().is_some_and(|n| n > 0), "{c}");

    // The command line agrees, row for row.
    let d = db.clone();
    let (cand, t) = (candidate.clone(), time.clone());
    let cli: Value = tokio::task::spawn_blocking(move || {
        let o = common::jishi(
            &d,
            &[
                "trail",
                &cand,
                "--election",
                ELECTION,
                "--as-of-occurred",
                &t,
                "--json",
            ],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        serde_json::from_slice(&o.stdout).expect("json")
    })
    .await
    .expect("cli");
    assert_eq!(cli["view"]["rows"], cut["trail"]["rows"]);
    assert_eq!(
        cli["as_of_occurred"], *c,
        "the cut is told of the candidate's own events, as the CLI tells it"
    );

    // The read is recorded with its cut.
    let (status, reads) = json(
        get(
            format!("/api/elections/{ELECTION}/candidates/{candidate}/accesses"),
            &tokens[0],
        )
        .await
        .expect("get"),
    )
    .await;
    assert_eq!(status, 200, "{reads}");
    let last = reads
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(last["record"]["as_of_occurred"], c["time"], "{last}");

    // The inspector's queries: the clock in a header, and the cut beside
    // the view as the command line prints it.
    let r = get(
        format!("/api/elections/{ELECTION}/deferrals?as_of_occurred={q}"),
        &tokens[0],
    )
    .await
    .expect("get");
    assert_eq!(
        r.headers().get("jishi-clock").and_then(|v| v.to_str().ok()),
        Some("occurred")
    );
    let (_, served) = json(r).await;
    let d = db.clone();
    let t = time.clone();
    let cli: Value = tokio::task::spawn_blocking(move || {
        let o = common::jishi(
            &d,
            &["deferrals", ELECTION, "--as-of-occurred", &t, "--json"],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        serde_json::from_slice(&o.stdout).expect("json")
    })
    .await
    .expect("cli");
    assert_eq!(served, cli, "the server and the CLI give one answer");
    let r = get(format!("/api/elections/{ELECTION}/deferrals"), &tokens[0])
        .await
        .expect("get");
    assert_eq!(
        r.headers().get("jishi-clock").and_then(|v| v.to_str().ok()),
        Some("recorded")
    );

    // Every answer cut by a clock names it in the header too.
    for path in [
        format!("/api/elections/{ELECTION}/check?as_of_occurred={q}"),
        format!("/api/elections/{ELECTION}/stats?as_of_occurred={q}"),
        format!("/api/elections/{ELECTION}/candidates?as_of_occurred={q}"),
        format!("{trail_path}?as_of_occurred={q}"),
    ] {
        let r = get(path.clone(), &tokens[0]).await.expect("get");
        assert_eq!(
            r.headers().get("jishi-clock").and_then(|v| v.to_str().ok()),
            Some("occurred"),
            "{path}"
        );
    }

    // The election and its check.
    let (status, e) = json(
        get(
            format!("/api/elections/{ELECTION}?as_of_occurred={q}"),
            &tokens[0],
        )
        .await
        .expect("get"),
    )
    .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["clock"], "occurred");
    assert_eq!(e["as_of_occurred"]["time"], c["time"]);

    // Refused, naming the field, and nothing recorded: both clocks, or no
    // time at all.
    let head = || async {
        let (_, h) = json(
            http.get(format!("{base}/api/health"))
                .send()
                .await
                .expect("health"),
        )
        .await;
        h["head"].as_u64().expect("head")
    };
    let before = head().await;
    for bad in [
        format!("{trail_path}?as_of=5&as_of_occurred={q}"),
        format!("{trail_path}?as_of_occurred=yesterday"),
        format!("/api/elections/{ELECTION}?as_of_occurred=2021-13-40"),
    ] {
        let (status, err) = json(get(bad.clone(), &tokens[0]).await.expect("get")).await;
        assert_eq!(status, 400, "{bad}: {err}");
        assert_eq!(err["error"]["field"], "as_of_occurred", "{bad}: {err}");
    }
    assert_eq!(head().await, before, "a refused read records nothing");

    // Out of scope answers as absent by either clock.
    let r = get(format!("{trail_path}?as_of_occurred={q}"), &tokens[1])
        .await
        .expect("get");
    assert_eq!(r.status(), 404);

    // The page names the clock above everything, and offers the field.
    let cookie = format!("jishi_token={}", tokens[0]);
    let page = http
        .get(format!(
            "{base}/elections/{ELECTION}/candidates/{candidate}?as_of_occurred={q}"
        ))
        .header("cookie", cookie.clone())
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("id=\"clock\"") && page.contains("按发生时间 by occurred time"),
        "{page}"
    );
    assert!(page.contains("name=\"as_of_occurred\""));
    let page = http
        .get(format!("{base}/elections/{ELECTION}?as_of=10"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(page.contains("按记录时间 by recorded time"), "{page}");
}
