//! The server's pages in a real browser: headless Chromium driven through
//! WebDriver (chromedriver) against `jishi serve` on the demo district. A
//! person signs in, opens an election and a candidate, reads the timeline and
//! the responsibility chain, waits for the "verified up to checkpoint" badge,
//! and moves the as-of back; a wrong token stays on the sign-in page.
//! Screenshots land in `$CARGO_TARGET_TMPDIR/server-browser/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium`
//! and `chromium-driver`, installed by `.ci/run`); without them the test
//! prints `skipped: …` and passes, except under CI, where it fails.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::*;
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::json;

#[test]
fn a_person_signs_in_reads_a_candidates_trail_and_moves_the_as_of_back_in_a_browser() {
    if !browser_available() {
        return;
    }

    // Given the demo district, a recorder of 天元区 and a signed checkpoint
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, key) = demo_with_checkpoint(dir.path());
    let token = add_user(&db, "zzb-liu", "刘洋", "recorder", "天元区");

    // And the server, and chromedriver, each on a free loopback port
    let served = Served::start(dir.path(), &db, &key);
    let shots = screenshot_dir();
    let profile = dir.path().join("chromium-profile");

    common::server::rt().block_on(async {
        let client = connect(served.driver_port, &profile).await;
        let base = format!("http://127.0.0.1:{}", served.port);
        browse(&client, &base, &token, &shots).await;
        client.close().await.expect("close the browser");
    });
}

async fn text_in(e: &Element, css: &str) -> String {
    e.find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no {css} in a timeline row: {err}"))
        .text()
        .await
        .expect("text")
}

/// One row of the timeline as the page shows it.
#[derive(Debug)]
struct Row {
    position: u64,
    who: String,
    role: String,
    org: String,
    when: String,
    hash: String,
}

async fn timeline(c: &Client) -> Vec<Row> {
    let mut rows = Vec::new();
    for li in find_all(c, "ol#timeline > li").await {
        let position = li
            .attr("data-position")
            .await
            .expect("attr")
            .and_then(|p| p.parse().ok())
            .expect("a numeric data-position on every row");
        rows.push(Row {
            position,
            who: text_in(&li, "span.who").await,
            role: text_in(&li, "span.role").await,
            org: text_in(&li, "span.org").await,
            when: text_in(&li, "span.when").await,
            hash: text_in(&li, "code.hash").await,
        });
    }
    rows
}

async fn browse(c: &Client, base: &str, token: &str, shots: &Path) {
    // When a person who is not signed in opens the elections
    c.goto(&format!("{base}/elections")).await.expect("goto");
    // Then they are sent to sign in
    assert_eq!(path(c).await, "/signin");

    // When they give a wrong token
    find(c, "input#token")
        .await
        .send_keys("jst_wrong")
        .await
        .expect("type");
    submit_and_wait(c, "//form[@action='/signin']", "#signin-error").await;
    // Then they stay on the sign-in page, with an error
    assert_eq!(path(c).await, "/signin");
    let error = find(c, "#signin-error").await.text().await.expect("text");
    assert!(error.contains("令牌无效"), "{error}");
    assert!(find_all(c, "table#elections").await.is_empty());
    screenshot(c, shots, "signin-error.png").await;

    // When they give the right one
    find(c, "input#token")
        .await
        .send_keys(token)
        .await
        .expect("type");
    submit_and_wait(c, "//form[@action='/signin']", "table#elections").await;
    // Then they land on the elections, and see the district's
    assert_eq!(path(c).await, "/elections");
    let who = find(c, "#whoami").await.text().await.expect("text");
    assert!(who.contains("刘洋") && who.contains("天元区"), "{who}");
    let links = find_all(c, "table#elections td a").await;
    assert!(links.len() >= 6, "the demo's elections: {}", links.len());
    screenshot(c, shots, "elections.png").await;

    // When they open the first election
    let href = links[0].attr("href").await.expect("attr").expect("href");
    assert!(href.starts_with("/elections/"), "{href}");
    follow_and_wait(c, &links[0], "table#candidates").await;
    // Then its page has candidates, findings and statistics
    assert_eq!(path(c).await, href);
    find(c, "#findings").await;
    find(c, "table#stats").await;
    find(c, "input#as-of-slider").await;
    let candidates = find_all(c, "table#candidates td a").await;
    assert!(candidates.len() >= 3, "candidates: {}", candidates.len());
    screenshot(c, shots, "election.png").await;

    // When they open its first candidate
    let trail = candidates[0]
        .attr("href")
        .await
        .expect("attr")
        .expect("href");
    assert!(trail.starts_with(&format!("{href}/candidates/")), "{trail}");
    follow_and_wait(c, &candidates[0], "ol#timeline").await;
    assert_eq!(path(c).await, trail);

    // Then the timeline has rows in ledger order, each with who, role, org, when and
    // hash (the trail shows a hash's first 12 hex digits)
    let rows = timeline(c).await;
    assert!(rows.len() >= 4, "a trail of several steps: {rows:?}");
    for r in &rows {
        assert!(!r.who.is_empty(), "who: {r:?}");
        assert!(!r.role.is_empty(), "role: {r:?}");
        assert!(!r.org.is_empty(), "org: {r:?}");
        assert!(r.when.starts_with("20"), "when: {r:?}");
        assert!(
            r.hash.len() >= 12 && r.hash.chars().all(|ch| ch.is_ascii_hexdigit()),
            "hash: {r:?}"
        );
    }
    assert!(
        rows.windows(2).all(|w| w[0].position < w[1].position),
        "positions ascend: {rows:?}"
    );
    // And the responsibility chain is there
    let duties = find_all(c, "table#accountability tr").await;
    assert!(duties.len() >= 2, "a header and duties: {}", duties.len());

    // And the badge says verified up to the signed checkpoint, once the
    // server's background verification has finished
    let deadline = Instant::now() + Duration::from_secs(20);
    let badge = loop {
        let text = find(c, "#verified-badge").await.text().await.expect("text");
        if !text.contains("pending") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the badge still says {text:?} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.refresh().await.expect("reload");
    };
    assert!(
        badge.contains("已核验至检查点 #1") && badge.contains("verified up to checkpoint #1"),
        "{badge}"
    );
    assert!(badge.contains("signed by tianyuan.example/log"), "{badge}");
    screenshot(c, shots, "candidate-trail.png").await;

    // When they move the as-of back to the middle of the trail by typing a position
    let middle = rows[rows.len() / 2 - 1].position;
    let field = find(c, "input#as-of-field").await;
    field.clear().await.expect("clear");
    field.send_keys(&middle.to_string()).await.expect("type");
    submit_and_wait(
        c,
        "//input[@id='as-of-field']/ancestor::form",
        "ol#timeline",
    )
    .await;
    // Then the trail is shorter, as it stood at that position
    let url = c.current_url().await.expect("url");
    assert_eq!(url.path(), trail);
    assert_eq!(url.query(), Some(format!("as_of={middle}").as_str()));
    let earlier = timeline(c).await;
    assert_eq!(
        earlier.iter().map(|r| r.position).collect::<Vec<_>>(),
        rows.iter()
            .map(|r| r.position)
            .filter(|p| *p <= middle)
            .collect::<Vec<_>>(),
        "the rows up to position {middle}"
    );
    assert!(earlier.len() < rows.len());
    let meta = find(c, "main p.meta").await.text().await.expect("text");
    assert!(meta.contains(&format!("as of position {middle}")), "{meta}");
    screenshot(c, shots, "candidate-as-of.png").await;

    // When they drag the slider to the candidate's first event
    let first = rows[0].position;
    let slider = find(c, "input#as-of-slider").await;
    mark_page(c).await;
    c.execute(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'));",
        vec![
            serde_json::to_value(&slider).expect("element as json"),
            json!(first.to_string()),
        ],
    )
    .await
    .expect("move the slider");
    // Then its form is sent on its own
    wait_for_new_page(c, "ol#timeline").await;
    let url = c.current_url().await.expect("url");
    assert_eq!(url.query(), Some(format!("as_of={first}").as_str()));
    // And only the first step is left
    let at_first = timeline(c).await;
    assert_eq!(
        at_first.iter().map(|r| r.position).collect::<Vec<_>>(),
        vec![first]
    );
}
