//! Cross-site forgery and framing, tried from a real browser (D55, D56).
//!
//! A second origin, another loopback port served by the test itself, plays
//! the hostile site. It is *same-site* with the server (same host, other
//! port), so the browser sends every SameSite=Strict cookie on its forms and
//! frames, and its scripts can plant cookies the server will receive:
//! nothing but the server's token and Origin checks and its framing headers
//! stands in the way. In headless Chromium:
//!
//! * an auto-submitting form posts the attacker's own token to `/signin`,
//!   with a planted double-submit cookie and matching field: the browser is
//!   not signed in, neither before the victim signs in nor after;
//! * an auto-submitting form posts to `/signout`: the victim stays signed in;
//! * a page frames the signed-in elections page: the frame renders nothing of
//!   it, while a frame of the attacker's own page beside it does render
//!   (which shows the check can see a rendered frame).
//!
//! Runs, or skips, as tests/server_browser.rs does.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::*;
use fantoccini::Client;
use serde_json::json;

/// The hostile site: serves [`attacker_page`] for every request on its own
/// loopback port, on a thread that lives as long as the test.
fn attacker_site(victim_port: u16, attacker_token: &str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the attacker's port");
    let port = listener.local_addr().expect("addr").port();
    let token = attacker_token.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let target = request.split_whitespace().nth(1).unwrap_or("/");
            let body = attacker_page(target, victim_port, &token);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// The attacker's pages, by path.
fn attacker_page(path: &str, victim: u16, token: &str) -> String {
    let jishi = format!("http://127.0.0.1:{victim}");
    match path {
        // Login CSRF: the attacker's own token, and a double-submit pair the
        // attacker made up (the cookie is planted for the host, which the
        // server's port shares).
        "/forge-signin" => format!(
            r#"<!doctype html><html><body>
<form id="f" method="post" action="{jishi}/signin">
<input type="hidden" name="token" value="{token}">
<input type="hidden" name="csrf" value="planted0123">
</form>
<script>
document.cookie = "jishi_csrf=planted0123; path=/";
document.getElementById("f").submit();
</script></body></html>"#
        ),
        "/forge-signout" => format!(
            r#"<!doctype html><html><body>
<form id="f" method="post" action="{jishi}/signout">
<input type="hidden" name="csrf" value="guessed0123">
</form>
<script>document.getElementById("f").submit();</script></body></html>"#
        ),
        "/frame" => format!(
            r#"<!doctype html><html><body>
<iframe id="own" src="/own" onload="window.ownLoaded = true"></iframe>
<iframe id="victim" src="{jishi}/elections" width="1000" height="800"
  onload="window.victimLoaded = true"></iframe>
</body></html>"#
        ),
        "/own" => {
            r#"<!doctype html><html><body><p id="own-marker">attacker's own page</p></body></html>"#
                .to_string()
        }
        _ => "<!doctype html><html><body>nothing here</body></html>".to_string(),
    }
}

#[test]
fn forged_forms_and_framing_from_another_origin_fail_in_a_browser() {
    if !browser_available() {
        return;
    }

    // Given the demo district, its recorder (the victim) and a recorder of
    // another district (the attacker), and the server
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, key) = demo_with_checkpoint(dir.path());
    let victim = add_user(&db, "zzb-liu", "刘洋", "recorder", "天元区");
    let attacker = add_user(&db, "hd-zhao", "赵敏", "recorder", "河东区");
    let served = Served::start(dir.path(), &db, &key);
    // And the hostile site on a port of its own
    let evil = attacker_site(served.port, &attacker);
    let profile = dir.path().join("chromium-profile");
    let shots = screenshot_dir();

    common::server::rt().block_on(async {
        let c = connect(served.driver_port, &profile).await;
        let base = format!("http://127.0.0.1:{}", served.port);
        let evil = format!("http://127.0.0.1:{evil}");
        forged_sign_in_before_any_visit(&c, &base, &evil, &shots).await;
        sign_in(&c, &base, &victim).await;
        forged_sign_in_over_a_session(&c, &base, &evil).await;
        forged_sign_out(&c, &base, &evil).await;
        framing(&c, &base, &evil, &shots).await;
        c.close().await.expect("close the browser");
    });
}

/// The text of the page the browser shows.
async fn body_text(c: &Client) -> String {
    find(c, "body").await.text().await.expect("text")
}

/// Opens the elections page: the path it ends on, and who it says is signed
/// in (empty when nobody is).
async fn who_is_signed_in(c: &Client, base: &str) -> (String, String) {
    c.goto(&format!("{base}/elections")).await.expect("goto");
    let who = match find_all(c, "#whoami").await.first() {
        Some(e) => e.text().await.expect("text"),
        None => String::new(),
    };
    (path(c).await, who)
}

/// Loads an attacker page that auto-submits a form to the server, and waits
/// for the server's answer to replace it.
async fn visit_forging_page(c: &Client, evil: &str, page: &str, base: &str) {
    c.goto(&format!("{evil}{page}")).await.expect("goto");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = c.current_url().await.expect("url").to_string();
        if url.starts_with(base) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the forged form of {page} never reached the server: still on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::Css("body"))
        .await
        .expect("the server's answer");
}

async fn forged_sign_in_before_any_visit(c: &Client, base: &str, evil: &str, shots: &Path) {
    // When a browser that has never seen the server opens the attacker's
    // page, which posts the attacker's token with a planted cookie
    visit_forging_page(c, evil, "/forge-signin", base).await;
    // Then the server refuses the form as not its own
    assert_eq!(path(c).await, "/signin");
    let text = body_text(c).await;
    assert!(text.contains("CSRF"), "the refusal names the check: {text}");
    screenshot(c, shots, "csrf-forged-signin.png").await;
    // And the planted cookie did reach the server's host (so only the
    // Origin check stood in the way)
    c.goto(&format!("{evil}/")).await.expect("goto");
    let cookies = c
        .execute("return document.cookie;", vec![])
        .await
        .expect("read the attacker's cookies");
    assert!(
        cookies
            .as_str()
            .is_some_and(|s| s.contains("jishi_csrf=planted0123")),
        "the planted cookie: {cookies}"
    );
    // And the browser is not signed in as anybody
    let (at, who) = who_is_signed_in(c, base).await;
    assert_eq!(at, "/signin", "not signed in (whoami: {who:?})");
    assert!(
        c.get_named_cookie("jishi_token").await.is_err(),
        "no session cookie was set"
    );
}

async fn sign_in(c: &Client, base: &str, token: &str) {
    // When the victim signs in on the server's own page
    c.goto(&format!("{base}/signin")).await.expect("goto");
    find(c, "input#token")
        .await
        .send_keys(token)
        .await
        .expect("type");
    submit_and_wait(c, "//form[@action='/signin']", "table#elections").await;
    // Then they are, as themselves
    let (at, who) = who_is_signed_in(c, base).await;
    assert_eq!(at, "/elections");
    assert!(who.contains("刘洋"), "{who}");
}

async fn forged_sign_in_over_a_session(c: &Client, base: &str, evil: &str) {
    // When the signed-in victim opens the attacker's sign-in page
    visit_forging_page(c, evil, "/forge-signin", base).await;
    let text = body_text(c).await;
    assert!(text.contains("CSRF"), "{text}");
    // Then they are still themselves, not the attacker
    let (at, who) = who_is_signed_in(c, base).await;
    assert_eq!(at, "/elections");
    assert!(who.contains("刘洋") && !who.contains("赵敏"), "{who}");
}

async fn forged_sign_out(c: &Client, base: &str, evil: &str) {
    // When the signed-in victim opens a page that posts to /signout
    visit_forging_page(c, evil, "/forge-signout", base).await;
    let text = body_text(c).await;
    assert!(text.contains("CSRF"), "{text}");
    // Then they are still signed in
    let (at, who) = who_is_signed_in(c, base).await;
    assert_eq!(at, "/elections");
    assert!(who.contains("刘洋"), "{who}");
}

async fn framing(c: &Client, base: &str, evil: &str, shots: &Path) {
    // When the signed-in victim opens a page that frames the elections page
    // beside a page of the attacker's own
    c.goto(&format!("{evil}/frame")).await.expect("goto");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let loaded = c
            .execute(
                "return window.ownLoaded === true && window.victimLoaded === true;",
                vec![],
            )
            .await
            .expect("script");
        if loaded == json!(true) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more for anything a frame would still paint
    tokio::time::sleep(Duration::from_millis(500)).await;
    screenshot(c, shots, "csrf-framing.png").await;

    // Then the attacker's own frame renders (the check can see a frame)
    c.enter_frame(0).await.expect("enter the attacker's frame");
    assert_eq!(find_all(c, "#own-marker").await.len(), 1);
    c.enter_parent_frame().await.expect("back to the page");
    // And the framed server page renders nothing of itself
    c.enter_frame(1).await.expect("enter the server's frame");
    assert!(
        find_all(c, "table#elections").await.is_empty(),
        "the elections page rendered in a frame"
    );
    assert!(find_all(c, "#whoami").await.is_empty());
    assert!(find_all(c, "input#token").await.is_empty());
    c.enter_parent_frame().await.expect("back to the page");

    // And the server's page still opens on its own
    let (at, who) = who_is_signed_in(c, base).await;
    assert_eq!(at, "/elections");
    assert!(who.contains("刘洋"), "{who}");
}
