//! Cross-site request forgery on the pages' forms (D56, revising D36).
//!
//! The session cookie is SameSite=Strict, but that does not protect the
//! sign-in form: a page of another site could post *its own* token to
//! `/signin` and sign the browser in as the attacker's user, whose name is
//! then recorded on every read the victim makes (login CSRF). So every form
//! carries a token and every POST is checked twice:
//!
//! * **the token.** Sign-in has no session yet: the sign-in page sets a
//!   random pre-session cookie (`jishi_csrf`, HttpOnly, SameSite=Strict) and
//!   puts the same value in a hidden field; the POST must bring both, equal.
//!   Another site can set neither the cookie nor read the field. Signed-in
//!   forms carry a token derived from the session (a hash of the token's
//!   stored hash), which only a page of this origin can have read.
//! * **the origin.** `Origin` (or, when a browser sends none, `Referer`) must
//!   name this server's own host. A same-site attacker that could plant a
//!   cookie still fails here.

use axum::http::{header, HeaderMap};
use jishi_app::users::{token_sha256, User};

/// The pre-session cookie of the sign-in form.
pub const COOKIE: &str = "jishi_csrf";
/// The hidden field of every form.
pub const FIELD: &str = "csrf";

/// A fresh random value for the sign-in form (256 bits, hex).
pub fn fresh() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The token of a signed-in user's forms: bound to the session's token (via
/// its stored hash, so a rotation changes it) and useless anywhere else.
pub fn for_session(user: &User) -> String {
    token_sha256(&format!("jishi.csrf.v1:{}", user.token_sha256))
}

/// Compares without stopping at the first difference, so that the time
/// taken says nothing about how much of a guess was right.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether the request comes from a page of this server: its `Origin`, or
/// failing that its `Referer`, names the `Host` it was sent to. A request
/// with neither is refused: every browser this serves sends `Origin` on a
/// form POST.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let names_host = |url: &str| {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        rest.is_some_and(|r| r.split('/').next() == Some(host))
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().is_ok_and(names_host);
    }
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .is_some_and(names_host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn the_origin_must_name_this_host() {
        let host = (header::HOST, "127.0.0.1:8080");
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:9090")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:8080.evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "null")
        ])));
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::REFERER, "http://127.0.0.1:8080/signin")
        ])));
        assert!(!same_origin(&headers(&[host])));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("ab", "ab"));
        assert!(!same("ab", "ac"));
        assert!(!same("", ""));
        assert!(!same("ab", "abc"));
    }
}
