//! A nested ledger's answers kept inside its prefix (D113).
//!
//! Every page, form and redirect of the server names its paths from the
//! root (`/elections/…`, `action="/open"`, `Location: /signin`), which is
//! right for the home ledger. Under `/ledgers/{name}` the same handlers
//! serve another ledger, and a link that left the prefix would silently
//! show, or record into, the home ledger. Rather than thread a prefix
//! through fifty link sites (and have the next one forget it), one layer
//! around the nested routes rewrites what leaves them: a `Location` header,
//! and in HTML the attributes `href="/…"`, `action="/…"` and `src="/…"`.
//! That text can only be an attribute: maud escapes every `"` in content
//! as `&quot;`, so no recorded name or summary can contain the pattern.
//! Paths already under `/ledgers` (the list of ledgers, the search across
//! them) are left as they are. The layer also refuses the user
//! administration routes, since users live in the home ledger only.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The largest page this layer reads back to rewrite; larger answers
/// (none is) would be a fault, not a page.
const MAX_PAGE: usize = 64 << 20;

/// What the layer knows about the ledger it wraps.
pub(super) struct Nested {
    name: String,
    prefix: String,
}

impl Nested {
    pub(super) fn new(name: &str) -> Nested {
        Nested {
            name: name.to_string(),
            prefix: super::base(name),
        }
    }
}

/// Whether `path` (as the nested router sees it, without the prefix) is
/// one of the routes that administer users: they write `user/<id>`
/// streams, which only the home ledger's count.
fn administers_users(path: &str) -> bool {
    path == "/api/users" || path.starts_with("/api/users/") || path == "/api/me/token"
}

pub(super) async fn inside(State(n): State<Arc<Nested>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if administers_users(&path) {
        return ApiError::NotFound(format!(
            "no such route: {}{path}: users live in the home ledger; use {path} at the root",
            n.prefix
        ))
        .into_response();
    }
    let res = next.run(req).await;
    rebase_response(res, &n).await
}

async fn rebase_response(mut res: Response, n: &Nested) -> Response {
    if let Some(to) = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| rebase_path(l, &n.prefix))
    {
        if let Ok(v) = HeaderValue::from_str(&to) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::Internal(format!("page of ledger {}: {e}", n.name)).into_response()
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let page = with_banner(&rebase_html(text, &n.prefix), n);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page))
}

/// `path` moved under `prefix`, or `None` when it stays: not a path from
/// the root, a protocol-relative URL, or already under `/ledgers`.
fn rebase_path(path: &str, prefix: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    if rest.starts_with('/') || under_ledgers(rest) {
        return None;
    }
    Some(format!("{prefix}{path}"))
}

/// Whether `rest` (a path after its first `/`) is `/ledgers` or below.
fn under_ledgers(rest: &str) -> bool {
    rest.strip_prefix("ledgers")
        .is_some_and(|r| r.is_empty() || r.starts_with(['/', '?', '"', '#']))
}

/// The page with every root path in an `href`, `action` or `src`
/// attribute moved under `prefix`.
pub(super) fn rebase_html(page: &str, prefix: &str) -> String {
    const ATTRS: [&str; 3] = ["href=\"/", "action=\"/", "src=\"/"];
    let mut out = String::with_capacity(page.len() + 64);
    let mut rest = page;
    loop {
        let next = ATTRS
            .iter()
            .filter_map(|a| rest.find(a).map(|at| (at, a.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        // Up to and including `="`, then the prefix if the path moves.
        let (before, after) = rest.split_at(at + len - 1);
        out.push_str(before);
        let tail = &after[1..];
        if !(tail.starts_with('/') || under_ledgers(tail)) {
            out.push_str(prefix);
        }
        out.push('/');
        rest = tail;
    }
}

/// Says on every page of a nested ledger which ledger it is, with the way
/// back to the list.
fn with_banner(page: &str, n: &Nested) -> String {
    let banner = maud::html! {
        p.meta id="ledger-banner" {
            "台账 ledger: " strong { (n.name) } " · "
            a href="/ledgers" { "全部台账 all ledgers" }
            " · " a href="/search/all" { "跨台账查找 search all ledgers" }
        }
    }
    .into_string();
    match page.find("<main>") {
        Some(at) => {
            let at = at + "<main>".len();
            format!("{}{banner}{}", &page[..at], &page[at..])
        }
        None => page.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_paths_move_under_the_prefix_and_nothing_else_does() {
        let page = concat!(
            r#"<a href="/elections/x">x</a><form action="/open" method="post">"#,
            r#"<script src="/static/jishi.js"></script><a href="//cdn.example/x">"#,
            r#"<a href="/ledgers">all</a><a href="/ledgers/hexi/x">"#,
            r#"<a href="/ledgersmith">odd</a><a href="https://x.example/">"#,
            r#"<p>李明 &quot;href=&quot;/elections&quot;</p><a href="/">home</a>"#,
        );
        let out = rebase_html(page, "/ledgers/hexi");
        assert_eq!(
            out,
            concat!(
                r#"<a href="/ledgers/hexi/elections/x">x</a><form action="/ledgers/hexi/open" method="post">"#,
                r#"<script src="/ledgers/hexi/static/jishi.js"></script><a href="//cdn.example/x">"#,
                r#"<a href="/ledgers">all</a><a href="/ledgers/hexi/x">"#,
                r#"<a href="/ledgers/hexi/ledgersmith">odd</a><a href="https://x.example/">"#,
                r#"<p>李明 &quot;href=&quot;/elections&quot;</p><a href="/ledgers/hexi/">home</a>"#,
            )
        );
    }

    #[test]
    fn redirects_move_under_the_prefix() {
        let p = "/ledgers/hexi";
        assert_eq!(
            rebase_path("/signin", p).as_deref(),
            Some("/ledgers/hexi/signin")
        );
        assert_eq!(
            rebase_path("/api/verify/job", p).as_deref(),
            Some("/ledgers/hexi/api/verify/job")
        );
        assert_eq!(rebase_path("/ledgers", p), None);
        assert_eq!(rebase_path("//evil.example/", p), None);
        assert_eq!(rebase_path("https://x.example/", p), None);
    }

    #[test]
    fn user_administration_stays_at_the_root() {
        assert!(administers_users("/api/users"));
        assert!(administers_users("/api/users/x/revoke"));
        assert!(administers_users("/api/me/token"));
        assert!(!administers_users("/api/me"));
        assert!(!administers_users("/api/usersx"));
    }
}
