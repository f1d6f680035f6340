//! Whether a number as written survives canonicalisation in value (D44).
//!
//! JCS writes every number as the shortest text of its IEEE 754 double, so a
//! number written with more precision or range than a double has, or `-0`,
//! would be stored as another value. [`parse_strict`](crate::canonical::parse_strict)
//! refuses those; these are its parts: the literals as written (found by a
//! scan, since the parsed value keeps only the double), their reading as
//! exact decimals, and the comparison with the canonical text.

use crate::canonical::{push_number, MAX_SAFE_INTEGER};

/// The number literals of a JSON text, in document order (the order in
/// which the parser visits them). Strings are skipped with their escapes;
/// in valid JSON a number is the only token that starts with `-` or a digit.
pub(crate) fn number_literals(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                out.push(&text[start..i]);
            }
            _ => i += 1,
        }
    }
    out
}

/// A number as an exact decimal: its sign, its significant digits (no
/// leading or trailing zeros; none for zero) and the power of ten of the
/// last digit. Two literals are the same number exactly when these are
/// equal, sign included (so `-0` is not `0`).
#[derive(Debug, PartialEq, Eq)]
struct ExactDecimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i128,
}

/// Reads a JSON number literal as an exact decimal; `None` if it is not one.
/// The exponent saturates far beyond any number a double can hold, which
/// keeps the comparison exact for every input shorter than that.
fn exact_decimal(literal: &str) -> Option<ExactDecimal> {
    const LIMIT: i128 = 1 << 62;
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, literal),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut exponent: i128 = match exp {
        None => 0,
        Some(e) => {
            let (neg, digits) = match e.as_bytes().first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v = digits
                .bytes()
                .fold(0i128, |acc, c| (acc * 10 + i128::from(c - b'0')).min(LIMIT));
            if neg {
                -v
            } else {
                v
            }
        }
    };
    exponent -= frac.len() as i128;
    let mut digits: Vec<u8> = int
        .bytes()
        .chain(frac.bytes())
        .skip_while(|&c| c == b'0')
        .collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
        exponent += 1;
    }
    if digits.is_empty() {
        exponent = 0;
    }
    Some(ExactDecimal {
        negative,
        digits,
        exponent,
    })
}

/// Why a number as written cannot be stored as it is, or `None` if its
/// canonical form is the same value.
pub(crate) fn number_refusal(literal: &str, n: &serde_json::Number) -> Option<String> {
    let mut canonical = Vec::with_capacity(24);
    push_number(&mut canonical, n);
    if literal.as_bytes() == canonical.as_slice() {
        return None;
    }
    let canonical = String::from_utf8_lossy(&canonical);
    let same = match (exact_decimal(literal), exact_decimal(&canonical)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if same {
        return None;
    }
    let magnitude = literal.trim_start_matches('-').trim_start_matches('0');
    if !literal.contains(['.', 'e', 'E']) && magnitude.len() >= 16 {
        return Some(format!(
            "integer {} is outside ±(2^53−1) and cannot be represented exactly; send it as a \
             string",
            shorten(literal)
        ));
    }
    Some(format!(
        "the number {} would be stored as {canonical}, which is another value (canonical JSON \
         keeps a number only as an IEEE 754 double{}); send it as a string to keep it exactly",
        shorten(literal),
        if literal.starts_with('-') && !canonical.starts_with('-') {
            ", and it has no negative zero"
        } else {
            ""
        }
    ))
}

/// The one `Number` form of an accepted value, so that a value and its
/// canonical text read back are equal: an integral value within ±(2^53−1)
/// as an integer (`1E2`, `0e0`), anything else as its double (already
/// checked to be exact, so `1e19` and `10000000000000000000` are one value).
pub(crate) fn one_form(n: serde_json::Number) -> serde_json::Number {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) if u <= MAX_SAFE_INTEGER => return n,
        (None, Some(i)) if i.unsigned_abs() <= MAX_SAFE_INTEGER => return n,
        _ => {}
    }
    let Some(f) = n.as_f64() else { return n };
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 {
        // Integral and in range: the cast is exact.
        return serde_json::Number::from(f as i64);
    }
    serde_json::Number::from_f64(f).unwrap_or(n)
}

/// At most 40 characters of a literal, for a message.
fn shorten(literal: &str) -> String {
    if literal.len() <= 40 {
        literal.to_string()
    } else {
        format!("{}… ({} characters)", &literal[..40], literal.len())
    }
}
