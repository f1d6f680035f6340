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

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser is here. Under CI (`CI` set) a missing browser fails
/// the test; elsewhere it is skipped with a loud line.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but {} missing: .ci/run must install chromium and chromium-driver \
             (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        );
    }
    eprintln!(
        "skipped: install chromium and chromium-driver (apt-get install chromium chromium-driver) to run the browser test"
    );
    false
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// The start of the answer to a plain HTTP GET (its status line first), if
/// anything answers. Only the first read: chromedriver keeps the connection.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Waits until `GET path` on `port` answers 200, or panics naming `what`.
fn wait_ready(port: u16, path: &str, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = http_get(port, path) {
            if r.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before it answered {path}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer {path} on port {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process started by the test, killed (with its process group: Chromium
/// under chromedriver) when dropped; its log is printed if the test failed.
struct Running {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Running {
    fn start(name: &'static str, cmd: &mut Command, log: PathBuf) -> Running {
        use std::os::unix::process::CommandExt;
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Running { child, name, log }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The group has the child's pid as its id (process_group(0)).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("---- {} log ----\n{log}", self.name);
        }
    }
}

fn run_ok(db: &Path, args: &[&str]) -> String {
    let out = common::jishi(db, args, None);
    assert!(
        out.status.success(),
        "jishi {args:?} failed:\n{}",
        common::text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_person_signs_in_reads_a_candidates_trail_and_moves_the_as_of_back_in_a_browser() {
    if !browser_available() {
        return;
    }

    // Given the demo district, a recorder of 天元区 and a signed checkpoint
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let key = dir.path().join("log.key");
    run_ok(&db, &["demo"]);
    let token = run_ok(
        &db,
        &[
            "user",
            "add",
            "zzb-liu",
            "--name",
            "刘洋",
            "--role",
            "recorder",
            "--org",
            "天元区",
        ],
    )
    .trim()
    .to_string();
    assert!(token.starts_with("jst_"), "a token: {token}");
    run_ok(
        &db,
        &[
            "keygen",
            "tianyuan.example/log",
            "--out",
            key.to_str().expect("utf-8 path"),
        ],
    );
    run_ok(
        &db,
        &["checkpoint", "--key", key.to_str().expect("utf-8 path")],
    );

    // And the server, and chromedriver, each on a free loopback port
    let port = free_port();
    let mut server = Running::start(
        "jishi serve",
        Command::new(env!("CARGO_BIN_EXE_jishi"))
            .arg("--db")
            .arg(&db)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--key"])
            .arg(&key)
            .env_remove("JISHI_DB")
            .env_remove("JISHI_ACTOR"),
        dir.path().join("serve.log"),
    );
    wait_ready(port, "/api/health", "jishi serve", &mut server.child);
    let driver_port = free_port();
    let mut driver = Running::start(
        "chromedriver",
        Command::new(CHROMEDRIVER).args([format!("--port={driver_port}").as_str()]),
        dir.path().join("chromedriver.log"),
    );
    wait_ready(driver_port, "/status", "chromedriver", &mut driver.child);

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let profile = dir.path().join("chromium-profile");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = connect(driver_port, &profile).await;
        let base = format!("http://127.0.0.1:{port}");
        browse(&client, &base, &token, &shots).await;
        client.close().await.expect("close the browser");
    });
    drop(driver);
    drop(server);
}

async fn connect(driver_port: u16, profile: &Path) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,2800",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("an object")
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("start a Chromium session through chromedriver")
}

/// The path of the page the browser shows.
async fn path(c: &Client) -> String {
    c.current_url()
        .await
        .expect("current url")
        .path()
        .to_string()
}

async fn find(c: &Client, css: &str) -> Element {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => panic!(
            "no {css} on {}: {e}",
            c.current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default()
        ),
    }
}

async fn find_all(c: &Client, css: &str) -> Vec<Element> {
    c.find_all(Locator::Css(css)).await.expect("find elements")
}

async fn text_in(e: &Element, css: &str) -> String {
    e.find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no {css} in a timeline row: {err}"))
        .text()
        .await
        .expect("text")
}

async fn screenshot(c: &Client, shots: &Path, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let file = shots.join(name);
    std::fs::write(&file, png).expect("write screenshot");
    println!("screenshot: {}", file.display());
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

/// Marks the page the browser shows, so that [`wait_for_new_page`] can tell
/// when another one (even at the same URL) has replaced it.
async fn mark_page(c: &Client) {
    c.execute("window.__jishi_old_page = true;", vec![])
        .await
        .expect("mark the page");
}

/// Waits until the marked page is gone and the new one has `then`.
async fn wait_for_new_page(c: &Client, then: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A script may fail while the document is being replaced: try again.
        let old = match c
            .execute("return window.__jishi_old_page === true;", vec![])
            .await
        {
            Ok(v) => v == json!(true),
            Err(_) => true,
        };
        if !old {
            break;
        }
        assert!(Instant::now() < deadline, "no new page after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(then))
        .await
        .unwrap_or_else(|e| panic!("no {then} on the new page: {e}"));
}

/// Submits `form` by its submit button and waits until the page it leads to
/// has an element matching `then`.
async fn submit_and_wait(c: &Client, form_xpath: &str, then: &str) {
    let form = c
        .form(Locator::XPath(form_xpath))
        .await
        .unwrap_or_else(|e| panic!("no form {form_xpath}: {e}"));
    mark_page(c).await;
    form.submit().await.expect("submit");
    wait_for_new_page(c, then).await;
}

/// Clicks the link `a` and waits until the page it leads to has `then`.
async fn follow_and_wait(c: &Client, a: &Element, then: &str) {
    mark_page(c).await;
    a.click().await.expect("click");
    wait_for_new_page(c, then).await;
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
