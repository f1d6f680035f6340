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
