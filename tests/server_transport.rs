//! The server's transport over a real loopback socket: the protective
//! headers every response carries (D55), pages, API and 404 alike.

use std::net::SocketAddr;
use std::sync::Arc;

use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{EventStore, ProofStore, SqliteStore};
use jishi_server::{AppState, Limits};

/// A server on a free port over an empty ledger with one admin; returns its
/// base URL, the admin's token and the directory to keep alive.
async fn start(limits: Limits) -> (String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn ProofStore> =
        Arc::new(SqliteStore::open(dir.path().join("ledger.db")).expect("open"));
    let events: Arc<dyn EventStore> = store.clone();
    let root = jishi_ledger::Actor {
        id: "local:test".into(),
        name: "test".into(),
        role: "admin".into(),
        org: "本机 local".into(),
    };
    let (_, token) = add_user(
        events.as_ref(),
        &root,
        NewUser {
            id: "root".into(),
            name: "管理员".into(),
            role: AccessRole::Admin,
            org: "本机 local".into(),
            acts_as: Some("admin".into()),
        },
    )
    .await
    .expect("add user");
    let state = Arc::new(AppState::new(store, None, "test.example/jishi".into()));
    *state.users.write().await = jishi_app::users::load_users(events.as_ref())
        .await
        .expect("users");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(jishi_server::serve(
        listener,
        state,
        limits,
        std::future::pending(),
    ));
    (format!("http://{addr}"), token, dir)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn assert_protective(what: &str, res: &reqwest::Response) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header in {h:?}"))
            .to_string()
    };
    assert_eq!(get("content-security-policy"), jishi_server::CSP, "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
}

#[tokio::test]
async fn every_response_carries_the_protective_headers() {
    let (base, token, _dir) = start(Limits::default()).await;
    let http = client();
    let page = http
        .get(format!("{base}/signin"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert_protective("the sign-in page", &page);
    let body = page.text().await.expect("body");
    // Nothing inline for the policy to block: the CSS and script are routes.
    assert!(!body.contains("<style"), "inline style in {body}");
    assert!(!body.contains("onchange"), "inline handler in {body}");
    assert!(body.contains("/static/jishi.css"), "{body}");

    let css = http
        .get(format!("{base}/static/jishi.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(css.status(), 200);
    assert_protective("the stylesheet", &css);

    let api = http
        .get(format!("{base}/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api");
    assert_protective("an API response", &api);
    let anon = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(anon.status(), 200);
    assert_protective("the OpenAPI document", &anon);

    for path in ["/no/such/page", "/api/no/such/route"] {
        let missing = http.get(format!("{base}{path}")).send().await.expect("404");
        assert_eq!(missing.status(), 404, "{path}");
        assert_protective(path, &missing);
    }
}

/// A server with short limits, for the transport tests.
async fn start_with(limits: jishi_server::Limits) -> std::net::SocketAddr {
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("dir")));
    let store: std::sync::Arc<dyn jishi_ledger::ProofStore> = std::sync::Arc::new(
        jishi_ledger::SqliteStore::open(dir.path().join("ledger.db")).expect("open"),
    );
    let state = std::sync::Arc::new(jishi_server::AppState::new(store, None, "t".into()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(jishi_server::serve(
        listener,
        state,
        limits,
        std::future::pending(),
    ));
    addr
}

/// Whether the server closed `s` within `within` (a read returns 0 or fails).
async fn closed_within(s: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Issue 15, item 5: a client that sends one header line every second is
/// cut off once the header timeout passes, and so is an idle kept-alive
/// connection; with a cap of 4 connections, 5 half-open ones do not hold the
/// server, and a normal request is served once the timeout frees a slot.
#[test]
fn slow_and_idle_clients_are_cut_off_and_the_cap_holds() {
    use tokio::io::AsyncWriteExt as _;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let limits = jishi_server::Limits {
            header_timeout: std::time::Duration::from_secs(2),
            max_connections: 4,
            ..jishi_server::Limits::default()
        };
        let addr = start_with(limits).await;

        // Slow headers: a line a second, never finished.
        let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
        slow.write_all(b"GET /api/health HTTP/1.1\r\n")
            .await
            .expect("write");
        let trickle = async {
            for i in 0..8 {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                if slow
                    .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return true;
                }
            }
            false
        };
        let cut = tokio::time::timeout(std::time::Duration::from_secs(9), trickle)
            .await
            .unwrap_or(false);
        let cut = cut || closed_within(&mut slow, std::time::Duration::from_secs(1)).await;
        assert!(cut, "a client trickling headers was still served after 8 s");

        // Idle keep-alive: one request answered, then silence.
        let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        idle.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        assert!(
            closed_within(&mut idle, std::time::Duration::from_secs(6)).await,
            "an idle kept-alive connection was held for 6 s"
        );

        // Five half-open connections against a cap of four.
        let mut held = Vec::new();
        for _ in 0..5 {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            s.write_all(b"GET /api/health HTTP/1.1\r\n")
                .await
                .expect("write");
            held.push(s);
        }
        let started = std::time::Instant::now();
        let r = reqwest::Client::new()
            .get(format!("http://{addr}/api/health"))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .expect("a normal request is served once slots free up");
        assert_eq!(r.status().as_u16(), 200);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    });
}
