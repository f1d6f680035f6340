//! The sign-in and sign-out forms refuse a forged post (D56): without the
//! form's token and this site's own origin, no one is signed in or out.
//! Over a real socket, as a browser on another site would send it; the
//! browser test (tests/server_browser.rs) signs in through the real form.

mod common;

use common::server::{operator, rt, serve};
use std::sync::Arc;

use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{EventStore, ProofStore, SqliteStore};
use jishi_server::AppState;

struct Server {
    base: String,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ProofStore> =
        Arc::new(SqliteStore::open(dir.path().join("ledger.db")).expect("open"));
    let events: Arc<dyn EventStore> = store.clone();
    let root = operator();
    let (_, token) = add_user(
        events.as_ref(),
        &root,
        NewUser {
            id: "zzb-001".into(),
            name: "张伟".into(),
            role: AccessRole::Recorder,
            org: "天元区".into(),
            acts_as: None,
        },
    )
    .await
    .expect("add user");
    let state = Arc::new(AppState::new(store, None, "test".into()));
    let base = serve(state).await;
    Server {
        base,
        token,
        // Redirects are what is asserted, so none is followed.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        _dir: dir,
    }
}

/// The value of `name` in the response's Set-Cookie headers.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            (k.trim() == name).then(|| val.trim().to_string())
        })
}

/// The hidden `csrf` field of a page's form.
fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().expect("value").to_string()
}

impl Server {
    /// The sign-in page: its pre-session cookie and its form's field.
    async fn signin_page(&self) -> (String, String) {
        let r = self
            .http
            .get(format!("{}/signin", self.base))
            .send()
            .await
            .expect("get");
        let cookie = set_cookie(&r, "jishi_csrf").expect("a pre-session cookie");
        let field = hidden_csrf(&r.text().await.expect("text"));
        (cookie, field)
    }

    async fn post_signin(
        &self,
        cookie: Option<&str>,
        field: Option<&str>,
        origin: &str,
    ) -> reqwest::Response {
        let mut form = vec![("token", self.token.clone())];
        if let Some(f) = field {
            form.push(("csrf", f.to_string()));
        }
        let mut req = self
            .http
            .post(format!("{}/signin", self.base))
            .header("origin", origin)
            .form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", format!("jishi_csrf={c}"));
        }
        req.send().await.expect("post")
    }
}

#[test]
fn a_forged_sign_in_signs_no_one_in() {
    rt().block_on(async {
        let s = start().await;
        let (cookie, field) = s.signin_page().await;
        assert_eq!(cookie, field, "the cookie and the field carry one value");
        let evil = "http://127.0.0.1:1";
        for (what, c, f, origin) in [
            ("no cookie, no field", None, None, s.base.as_str()),
            (
                "the field only",
                None,
                Some(field.as_str()),
                s.base.as_str(),
            ),
            (
                "the cookie only",
                Some(cookie.as_str()),
                None,
                s.base.as_str(),
            ),
            (
                "another value",
                Some(cookie.as_str()),
                Some("00"),
                s.base.as_str(),
            ),
            (
                "another origin",
                Some(cookie.as_str()),
                Some(field.as_str()),
                evil,
            ),
        ] {
            let r = s.post_signin(c, f, origin).await;
            assert_eq!(r.status().as_u16(), 403, "{what}");
            assert!(set_cookie(&r, "jishi_token").is_none(), "{what}: signed in");
        }
        // The real form, from this site's own page, signs in.
        let r = s.post_signin(Some(&cookie), Some(&field), &s.base).await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(
            set_cookie(&r, "jishi_token").as_deref(),
            Some(s.token.as_str())
        );
    });
}

#[test]
fn a_forged_sign_out_signs_no_one_out() {
    rt().block_on(async {
        let s = start().await;
        let session = format!("jishi_token={}", s.token);
        let page = s
            .http
            .get(format!("{}/elections", s.base))
            .header("cookie", &session)
            .send()
            .await
            .expect("page");
        assert_eq!(page.status().as_u16(), 200);
        let field = hidden_csrf(&page.text().await.expect("text"));
        let signout = |csrf: Option<&str>, origin: &str| {
            let mut form = Vec::new();
            if let Some(c) = csrf {
                form.push(("csrf", c.to_string()));
            }
            s.http
                .post(format!("{}/signout", s.base))
                .header("cookie", &session)
                .header("origin", origin)
                .form(&form)
                .send()
        };
        for (what, csrf, origin) in [
            ("no token", None, s.base.as_str()),
            ("another token", Some("00"), s.base.as_str()),
            ("another origin", Some(field.as_str()), "http://127.0.0.1:1"),
        ] {
            let r = signout(csrf, origin).await.expect("post");
            assert_eq!(r.status().as_u16(), 403, "{what}");
            assert!(
                set_cookie(&r, "jishi_token").is_none(),
                "{what}: signed out"
            );
        }
        let r = signout(Some(&field), &s.base).await.expect("post");
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(set_cookie(&r, "jishi_token").as_deref(), Some(""));
    });
}

/// Sign-in attempts are rate-limited per address (D58): past the burst, a
/// POST gets 429 with Retry-After and signs no one in; the sign-in page
/// itself is not limited.
#[test]
fn sign_in_attempts_are_rate_limited() {
    rt().block_on(async {
        let s = start().await;
        let (cookie, field) = s.signin_page().await;
        let mut limited = None;
        for i in 0..30 {
            let r = s.post_signin(Some(&cookie), Some(&field), &s.base).await;
            if r.status().as_u16() == 429 {
                assert!(r.headers().get("retry-after").is_some(), "no Retry-After");
                assert!(set_cookie(&r, "jishi_token").is_none());
                limited = Some(i);
                break;
            }
        }
        let at = limited.expect("30 sign-ins in a row were never limited");
        assert!(at >= 5, "limited after only {at} attempts");
        for _ in 0..20 {
            let r = s
                .http
                .get(format!("{}/signin", s.base))
                .send()
                .await
                .expect("get");
            assert_eq!(r.status().as_u16(), 200, "the sign-in page is limited");
        }
    });
}
