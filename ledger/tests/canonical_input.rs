//! JSON input parsing and canonicalisation, from outside the crate: what
//! `parse_strict` accepts is canonicalised to bytes that read back as the same
//! value and are their own canonical form, and every number is either kept
//! in value or refused with its path (D44).

use jishi_ledger::canonical::{canonical_json, parse_strict};
use proptest::prelude::*;
use serde_json::Value;

/// A number literal as sign, significant digits and the power of ten of
/// the last digit; zero has no digits. Written independently of the
/// crate's own reading, by string surgery.
fn exact(literal: &str) -> (bool, String, i64) {
    let neg = literal.starts_with('-');
    let body = literal.trim_start_matches('-').to_ascii_lowercase();
    let (mantissa, exp) = body.split_once('e').unwrap_or((&body, "0"));
    let exp: i64 = exp.parse().expect("test literals have small exponents");
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let trimmed = all.trim_start_matches('0');
    let sig = trimmed.trim_end_matches('0');
    if sig.is_empty() {
        return (neg, String::new(), 0);
    }
    let e = exp - frac.len() as i64 + (trimmed.len() - sig.len()) as i64;
    (neg, sig.to_string(), e)
}

fn number_of(value: &Value) -> String {
    canonical_json(&value["n"])
}

#[test]
fn numbers_whose_value_would_change_are_refused_naming_the_path() {
    for literal in [
        "1e-400",
        "12345678901234567890.5",
        "-0",
        "-0.0",
        "-0e5",
        "0.30000000000000001",
        "9007199254740993",
        "123456789012345678901",
    ] {
        let e = parse_strict(&format!(r#"{{"a":{{"n":[1,{literal}]}}}}"#)).expect_err(literal);
        assert_eq!(e.path, "$.a.n[1]", "{literal}: {e}");
        assert!(!e.reason.is_empty());
    }
}

#[test]
fn a_change_of_spelling_alone_is_accepted() {
    for (literal, stored) in [
        ("1.0", "1"),
        ("1E2", "100"),
        ("0.1", "0.1"),
        ("100", "100"),
        ("1e21", "1e+21"),
        ("0.000001", "0.000001"),
        ("-1.50", "-1.5"),
        ("0e7", "0"),
        ("1e16", "10000000000000000"),
        ("100000000000000000000", "100000000000000000000"),
    ] {
        let v = parse_strict(&format!(r#"{{"n":{literal}}}"#)).expect(literal);
        assert_eq!(number_of(&v), stored, "{literal}");
    }
}

/// Found by the cargo-fuzz target `json_input` (docs/FUZZING.md): `90E90`
/// was accepted and stored as `9e+91`, which was then refused on re-reading,
/// because serde_json's default float parser is not correctly rounded for
/// every input. With its `float_roundtrip` feature both spellings read as
/// the same double, and the stored form reads back as itself.
#[test]
fn a_large_exponent_reads_back_as_what_was_stored() {
    for literal in [
        "90E90",
        "9e+91",
        "9e91",
        "123456789e300",
        "2.2250738585072014e-308",
    ] {
        let v = parse_strict(&format!(r#"{{"n":{literal}}}"#)).expect(literal);
        let stored = jishi_ledger::canonical::canonical_json(&v);
        let again = parse_strict(&stored).unwrap_or_else(|e| panic!("{literal} → {stored}: {e}"));
        assert_eq!(
            jishi_ledger::canonical::canonical_json(&again),
            stored,
            "{literal}"
        );
    }
}

/// Values that JSON can carry, rendered with varied spellings of numbers and
/// white space, plus arbitrary text.
fn arb_text() -> impl Strategy<Value = String> {
    let number = (
        any::<bool>(),
        "[0-9]{1,22}",
        proptest::option::of("[0-9]{1,20}"),
        proptest::option::of((
            prop_oneof![Just("e"), Just("E")],
            prop_oneof![Just(""), Just("+"), Just("-")],
            0u32..420,
        )),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let int = int.trim_start_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            let mut s = format!("{}{int}", if neg { "-" } else { "" });
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, sign, n)) = exp {
                s.push_str(&format!("{e}{sign}{n}"));
            }
            s
        });
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        number,
        "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(r#""\u00e9\n\ud83d\ude00""#.to_string()),
    ];
    let value = leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            proptest::collection::vec(("[a-c]{1,2}", inner), 0..5).prop_map(|m| {
                let members: Vec<String> = m
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\" :{v}"))
                    .collect();
                format!("{{ {} }}", members.join(","))
            }),
        ]
    });
    prop_oneof![8 => value, 1 => "\\PC{0,30}", 1 => "[\\[\\]{}\",:0-9eE.+-]{0,20}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text is refused with a path and a reason, or canonicalised to
    /// bytes that read back as the same value and are a fixed point.
    #[test]
    fn text_is_refused_or_canonicalised_to_a_fixed_point(text in arb_text()) {
        match parse_strict(&text) {
            Err(e) => {
                prop_assert!(e.path.starts_with('$'), "{e:?}");
                prop_assert!(!e.reason.is_empty());
            }
            Ok(v) => {
                let bytes = canonical_json(&v);
                let again = parse_strict(&bytes);
                prop_assert!(again.is_ok(), "{bytes}: {again:?}");
                let again = again.unwrap();
                prop_assert_eq!(&again, &v);
                prop_assert_eq!(canonical_json(&again), bytes);
            }
        }
    }

    /// Every number is kept in value (sign included) or refused at its path.
    #[test]
    fn every_number_is_kept_in_value_or_refused(
        neg in any::<bool>(),
        int in "[0-9]{1,25}",
        frac in proptest::option::of("[0-9]{1,25}"),
        exp in proptest::option::of(-420i32..420),
    ) {
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let mut literal = format!("{}{int}", if neg { "-" } else { "" });
        if let Some(f) = &frac {
            literal.push('.');
            literal.push_str(f);
        }
        if let Some(e) = exp {
            literal.push_str(&format!("e{e}"));
        }
        let text = format!(r#"{{"x":[true,{{"n":{literal}}}]}}"#);
        match parse_strict(&text) {
            Err(e) => prop_assert_eq!(e.path, "$.x[1].n"),
            Ok(v) => {
                let stored = canonical_json(&v["x"][1]["n"]);
                prop_assert_eq!(exact(&stored), exact(&literal), "{} stored as {}", literal, stored);
            }
        }
    }
}
