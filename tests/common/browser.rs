//! Driving headless Chromium through chromedriver for the browser tests of
//! the pages (tests/server_browser*.rs): whether the browser is here, the
//! processes the tests start (killed with their process groups when
//! dropped), and the waits that tell one page from the next.

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

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser is here. Under CI (`CI` set) a missing browser fails
/// the test; elsewhere it is skipped with a loud line.
pub fn browser_available() -> bool {
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
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// The start of the answer to a plain HTTP GET (its status line first), if
/// anything answers. Only the first read: chromedriver keeps the connection.
pub fn http_get(port: u16, path: &str) -> Option<String> {
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
pub fn wait_ready(port: u16, path: &str, what: &str, child: &mut Child) {
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
pub struct Running {
    pub child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Running {
    pub fn start(name: &'static str, cmd: &mut Command, log: PathBuf) -> Running {
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

pub async fn connect(driver_port: u16, profile: &Path) -> Client {
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
pub async fn path(c: &Client) -> String {
    c.current_url()
        .await
        .expect("current url")
        .path()
        .to_string()
}

pub async fn find(c: &Client, css: &str) -> Element {
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

pub async fn find_all(c: &Client, css: &str) -> Vec<Element> {
    c.find_all(Locator::Css(css)).await.expect("find elements")
}

pub async fn screenshot(c: &Client, shots: &Path, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let file = shots.join(name);
    std::fs::write(&file, png).expect("write screenshot");
    println!("screenshot: {}", file.display());
}

/// Marks the page the browser shows, so that [`wait_for_new_page`] can tell
/// when another one (even at the same URL) has replaced it.
pub async fn mark_page(c: &Client) {
    c.execute("window.__jishi_old_page = true;", vec![])
        .await
        .expect("mark the page");
}

/// Waits until the marked page is gone and the new one has `then`.
pub async fn wait_for_new_page(c: &Client, then: &str) {
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
pub async fn submit_and_wait(c: &Client, form_xpath: &str, then: &str) {
    let form = c
        .form(Locator::XPath(form_xpath))
        .await
        .unwrap_or_else(|e| panic!("no form {form_xpath}: {e}"));
    mark_page(c).await;
    form.submit().await.expect("submit");
    wait_for_new_page(c, then).await;
}

/// Clicks the link `a` and waits until the page it leads to has `then`.
pub async fn follow_and_wait(c: &Client, a: &Element, then: &str) {
    mark_page(c).await;
    a.click().await.expect("click");
    wait_for_new_page(c, then).await;
}

/// Signs in through the sign-in form with `token`.
pub async fn sign_in(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/signin")).await.expect("goto");
    find(c, "input#token")
        .await
        .send_keys(token)
        .await
        .expect("type");
    submit_and_wait(c, "//form[@action='/signin']", "#whoami").await;
}

/// Sets the inputs named as in `fields` (ticks a box for "on").
pub async fn fill(c: &Client, fields: &[(&str, String)]) {
    for (name, value) in fields {
        c.execute(
            "const els = document.getElementsByName(arguments[0]);
             if (!els.length) { throw new Error('no input ' + arguments[0]); }
             const el = els[0];
             if (el.type === 'checkbox') { el.checked = arguments[1] === 'on'; }
             else { el.value = arguments[1]; }",
            vec![json!(name), json!(value)],
        )
        .await
        .unwrap_or_else(|e| panic!("fill {name}: {e}"));
    }
}

/// Clicks the element `css` and waits until the page it leads to has `then`.
pub async fn click_and_wait(c: &Client, css: &str, then: &str) {
    let a = find(c, css).await;
    follow_and_wait(c, &a, then).await;
}

/// Runs `jishi` on `db` and returns its standard output, or panics with all
/// it printed.
pub fn run_ok(db: &Path, args: &[&str]) -> String {
    let out = super::jishi(db, args, None);
    assert!(
        out.status.success(),
        "jishi {args:?} failed:\n{}",
        super::text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Adds a user with `jishi user add` and returns their token.
pub fn add_user(db: &Path, id: &str, name: &str, role: &str, org: &str) -> String {
    let token = run_ok(
        db,
        &[
            "user", "add", id, "--name", name, "--role", role, "--org", org,
        ],
    )
    .trim()
    .to_string();
    assert!(token.starts_with("jst_"), "a token: {token}");
    token
}

/// Adds each `(id, role, org)` as a user named by its id, with `jishi user
/// add` off the async workers; their tokens, in order.
#[allow(dead_code)]
pub async fn add_users(db: &Path, users: &[(&str, &str, &str)]) -> Vec<String> {
    let db = db.to_path_buf();
    let users: Vec<(String, String, String)> = users
        .iter()
        .map(|(i, r, o)| (i.to_string(), r.to_string(), o.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        users
            .iter()
            .map(|(id, role, org)| add_user(&db, id, id, role, org))
            .collect()
    })
    .await
    .expect("users")
}

/// A demo district in `dir` with a log key and one signed checkpoint: the
/// ledger and the key's paths.
pub fn demo_with_checkpoint(dir: &Path) -> (PathBuf, PathBuf) {
    let db = dir.join("demo.db");
    let key = dir.join("log.key");
    let key_path = key.to_str().expect("utf-8 path");
    run_ok(&db, &["demo"]);
    run_ok(&db, &["keygen", "tianyuan.example/log", "--out", key_path]);
    run_ok(&db, &["checkpoint", "--key", key_path]);
    (db, key)
}

/// `jishi serve` and chromedriver, each on a free loopback port, both
/// answering; dropped, both are killed.
pub struct Served {
    pub port: u16,
    pub driver_port: u16,
    // Dropped in this order: the browser's driver, then the server.
    _driver: Running,
    _server: Running,
}

impl Served {
    pub fn start(dir: &Path, db: &Path, key: &Path) -> Served {
        let port = free_port();
        let mut server = Running::start(
            "jishi serve",
            Command::new(env!("CARGO_BIN_EXE_jishi"))
                .arg("--db")
                .arg(db)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--key"])
                .arg(key)
                .env_remove("JISHI_DB")
                .env_remove("JISHI_ACTOR"),
            dir.join("serve.log"),
        );
        wait_ready(port, "/api/health", "jishi serve", &mut server.child);
        let driver_port = free_port();
        let mut driver = Running::start(
            "chromedriver",
            Command::new(CHROMEDRIVER).args([format!("--port={driver_port}").as_str()]),
            dir.join("chromedriver.log"),
        );
        wait_ready(driver_port, "/status", "chromedriver", &mut driver.child);
        Served {
            port,
            driver_port,
            _driver: driver,
            _server: server,
        }
    }
}

/// Where a test's screenshots go: `$CARGO_TARGET_TMPDIR/server-browser/`.
pub fn screenshot_dir() -> PathBuf {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    shots
}
