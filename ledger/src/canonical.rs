//! Canonical bytes (RFC 8785, JCS) and the two hashes every event carries.
//!
//! Why canonical bytes: an investigator re-computes every hash from an export
//! with a tool of their own, in another language. That only works if the bytes
//! that were hashed can be rebuilt from the values alone, which is what JCS gives.
//!
//! * `payload_digest = BLAKE3(JCS(payload))`, with no tag, so that `b3sum` over a
//!   payload's stored bytes gives its digest.
//! * `hash = BLAKE3(EVENT_HASH_TAG || JCS(envelope without payload and hash))`.
//!   The tag keeps an event hash from ever being mistaken for the digest of some
//!   payload that happens to have the envelope's shape.

use std::fmt::Write as _;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::numbers::{number_literals, number_refusal, one_form};
use crate::{Actor, Digest};

/// Prefixed to the envelope's canonical bytes before hashing (15 bytes: the
/// ASCII text `jishi.event.v1` and a NUL byte). A new envelope layout gets a new tag.
pub const EVENT_HASH_TAG: &[u8] = b"jishi.event.v1\0";

/// The tag of the format-3 envelope, which also commits to the event's
/// stream predecessor (`stream_prev_hash`, docs/FORMAT.md §10).
pub const EVENT_HASH_TAG_V2: &[u8] = b"jishi.event.v2\0";

/// The largest integer JCS can carry exactly (IEEE 754 double, RFC 8785 §3.2.2.3).
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JSON text that is not acceptable as canonical input. The message says
/// where (a JSON path such as `payload.votes[2]`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CanonicalError {
    pub path: String,
    pub reason: String,
}

impl CanonicalError {
    /// The error's path as a field name under `root` (`$.votes[1]` under
    /// `payload` is `payload.votes[1]`; under "" it is `votes[1]`), or
    /// `None` when the error concerns the text as a whole (malformed JSON).
    pub fn field_under(&self, root: &str) -> Option<String> {
        let rest = self.path.strip_prefix('$')?;
        if rest.is_empty() {
            return None;
        }
        Some(match (root.is_empty(), rest.strip_prefix('.')) {
            (true, Some(r)) => r.to_string(),
            _ => format!("{root}{rest}"),
        })
    }
}

/// Parses JSON text strictly, as I-JSON (RFC 7493) which JCS requires, and
/// refuses what canonicalisation would change rather than change it: a
/// duplicate member name (which value would win?), an integer written
/// beyond ±(2^53−1), and any number whose canonical form is another value
/// (`1e-400` would become 0, `-0` would lose its sign, a 20-digit number
/// its last digits). A number written another way with the same value (`1.0`,
/// `1E2`) is accepted and stored in canonical form (D44).
///
/// The check compares the number as written with its canonical text, both
/// read as exact decimals; the text as written is found by a scan of the
/// input, because the parsed value keeps only the double.
pub fn parse_strict(text: &str) -> Result<Value, CanonicalError> {
    let literals = number_literals(text);
    let mut ctx = Strict {
        literals: literals.iter(),
        path: String::from("$"),
        refused: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = match de::DeserializeSeed::deserialize(&mut ctx, &mut de) {
        Ok(v) => v,
        Err(e) => {
            if let Some(refused) = ctx.refused.take() {
                return Err(refused);
            }
            // The parser refuses a number beyond a double's range before a
            // visitor sees it; the path it was reading is still in place.
            let reason = e.to_string();
            let path = if reason.starts_with("number out of range") {
                std::mem::take(&mut ctx.path)
            } else {
                "$".into()
            };
            return Err(CanonicalError { path, reason });
        }
    };
    de.end().map_err(|e| CanonicalError {
        path: "$".into(),
        reason: e.to_string(),
    })?;
    Ok(value)
}

/// Checks that every number in an already parsed value survives JCS unchanged.
pub fn check_numbers(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Number(n) => {
            let too_big = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                (None, None) => false,
            };
            if too_big {
                return Err(CanonicalError {
                    path: path.clone(),
                    reason: format!(
                        "integer {n} is outside ±(2^53−1) and cannot be represented exactly; \
                         send it as a string"
                    ),
                });
            }
            // A double is written by JCS as the shortest text that reads
            // back as the same double, so only its sign can be lost: -0.
            if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) {
                return Err(CanonicalError {
                    path: path.clone(),
                    reason: "the number -0 would be stored as 0, which is another value \
                             (canonical JSON has no negative zero)"
                        .into(),
                });
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                // Written in place: this runs for every element of every
                // accepted payload.
                let _ = write!(path, "[{i}]");
                check_numbers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                check_numbers(v, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The RFC 8785 canonical text of a JSON value.
///
/// Written here, with the envelope's writer, rather than taken from a
/// general canonicaliser: every recorded payload passes through it on the
/// recorder's path, and the general one (which renders each member to a
/// buffer of its own before sorting) took a third of the client's CPU in
/// `jishi bench --postgres` (perf, 2026-11-28). A property test holds it to
/// `serde_json_canonicalizer`'s output for arbitrary values.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    push_value(&mut out, value);
    // Only `&str` contents and ASCII were written, so this is valid UTF-8;
    // the lossy branch cannot be taken.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn push_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => push_number(out, n),
        Value::String(s) => push_json_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            if in_jcs_order(map) {
                push_members(out, map.iter());
            } else {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
                push_members(out, members.into_iter());
            }
            out.push(b'}');
        }
    }
}

/// Whether the map already iterates in JCS order (keys by UTF-16 code
/// units). serde_json's map iterates in byte order, which is the same order
/// unless a key holds a character outside the Basic Multilingual Plane (its
/// UTF-16 surrogates sort before U+E000–U+FFFF, its UTF-8 after); checked
/// rather than assumed, so that a build where serde_json keeps insertion
/// order (its `preserve_order` feature) still hashes the same bytes.
fn in_jcs_order(map: &Map<String, Value>) -> bool {
    let mut previous: Option<&str> = None;
    for key in map.keys() {
        if key.bytes().any(|b| b >= 0xF0) || previous.is_some_and(|p| p >= key.as_str()) {
            return false;
        }
        previous = Some(key);
    }
    true
}

fn push_members<'a>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'a String, &'a Value)>) {
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, key);
        out.push(b':');
        push_value(out, value);
    }
}

/// A number as ECMAScript's `Number.prototype.toString` writes its IEEE 754
/// double (RFC 8785 §3.2.2.3). Integers within ±(2^53−1) are exact doubles
/// and print as their digits; anything else goes through the double, as JCS
/// requires (`ryu-js` implements the ECMAScript algorithm).
pub(crate) fn push_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) if u <= MAX_SAFE_INTEGER => push_u64(out, u),
        (None, Some(i)) if i.unsigned_abs() <= MAX_SAFE_INTEGER => {
            out.push(b'-');
            push_u64(out, i.unsigned_abs());
        }
        _ => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            out.extend_from_slice(ryu_js::Buffer::new().format(f).as_bytes());
        }
    }
}

/// `BLAKE3(bytes)`: the payload digest of a payload's canonical bytes.
pub fn payload_digest(canonical_payload: &[u8]) -> Digest {
    blake3::hash(canonical_payload).into()
}

/// The envelope fields that the event hash covers, by reference, so that the
/// verifier can hash a stored row without copying it.
#[derive(Debug, Clone, Copy)]
pub struct HashedEnvelope<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub stream_version: u64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub schema_version: u64,
    pub occurred_at: &'a str,
    pub recorded_at: &'a str,
    pub actor_id: &'a str,
    pub actor_name: &'a str,
    pub actor_role: &'a str,
    pub actor_org: &'a str,
    pub payload_digest: &'a Digest,
    pub prev_hash: &'a Digest,
    /// The hash of the stream's previous event (32 zero bytes for its first):
    /// `Some` for an event of format 3 (tag `jishi.event.v2`), `None` for one
    /// recorded before it (tag `jishi.event.v1`, no such member).
    pub stream_prev: Option<&'a Digest>,
}

/// Writes `s` as a JCS string: only `"`, `\\` and control characters are
/// escaped (short forms where JSON has them, else `\u00xx` in lowercase hex);
/// everything else, including all non-ASCII text, is copied as is. The common
/// case (nothing to escape) is one scan and one copy.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // No early exit: a branch-free pass the compiler can vectorise.
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x09 => out.extend_from_slice(b"\\t"),
                0x0a => out.extend_from_slice(b"\\n"),
                0x0c => out.extend_from_slice(b"\\f"),
                0x0d => out.extend_from_slice(b"\\r"),
                0x00..=0x1f => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0x0f) as usize]);
                }
                _ => out.push(b),
            }
        }
    }
    out.push(b'"');
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_hex(out: &mut Vec<u8>, d: &Digest) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'"'; 66];
    for (i, b) in d.0.iter().enumerate() {
        buf[1 + 2 * i] = HEX[(b >> 4) as usize];
        buf[2 + 2 * i] = HEX[(b & 0x0f) as usize];
    }
    out.extend_from_slice(&buf);
}

impl<'a> HashedEnvelope<'a> {
    /// Borrows the hashed fields of a stored event.
    pub fn of(event: &'a crate::RecordedEvent, event_id: &'a str) -> HashedEnvelope<'a> {
        HashedEnvelope {
            position: event.position,
            stream: &event.stream,
            stream_version: event.stream_version,
            event_id,
            event_type: &event.event_type,
            schema_version: u64::from(event.schema_version),
            occurred_at: &event.occurred_at,
            recorded_at: &event.recorded_at,
            actor_id: &event.actor.id,
            actor_name: &event.actor.name,
            actor_role: &event.actor.role,
            actor_org: &event.actor.org,
            payload_digest: &event.payload_digest,
            prev_hash: &event.prev_hash,
            stream_prev: event.stream_prev.as_ref(),
        }
    }

    pub fn with_actor(mut self, actor: &'a Actor) -> Self {
        self.actor_id = &actor.id;
        self.actor_name = &actor.name;
        self.actor_role = &actor.role;
        self.actor_org = &actor.org;
        self
    }

    /// Appends the envelope's canonical bytes to `out`. The members are
    /// written in JCS order (member names sorted by UTF-16 code units, which for
    /// these ASCII names is byte order). A property test checks the result
    /// against a general JCS canonicaliser; this writer exists because verify
    /// runs it once per event and it is several times faster.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"actor\":{\"id\":");
        push_json_str(out, self.actor_id);
        out.extend_from_slice(b",\"name\":");
        push_json_str(out, self.actor_name);
        out.extend_from_slice(b",\"org\":");
        push_json_str(out, self.actor_org);
        out.extend_from_slice(b",\"role\":");
        push_json_str(out, self.actor_role);
        out.extend_from_slice(b"},\"event_id\":");
        push_json_str(out, self.event_id);
        out.extend_from_slice(b",\"event_type\":");
        push_json_str(out, self.event_type);
        out.extend_from_slice(b",\"occurred_at\":");
        push_json_str(out, self.occurred_at);
        out.extend_from_slice(b",\"payload_digest\":");
        push_hex(out, self.payload_digest);
        out.extend_from_slice(b",\"position\":");
        push_u64(out, self.position);
        out.extend_from_slice(b",\"prev_hash\":");
        push_hex(out, self.prev_hash);
        out.extend_from_slice(b",\"recorded_at\":");
        push_json_str(out, self.recorded_at);
        out.extend_from_slice(b",\"schema_version\":");
        push_u64(out, self.schema_version);
        out.extend_from_slice(b",\"stream\":");
        push_json_str(out, self.stream);
        if let Some(d) = self.stream_prev {
            // "stream_prev_hash" sorts between "stream" and "stream_version".
            out.extend_from_slice(b",\"stream_prev_hash\":");
            push_hex(out, d);
        }
        out.extend_from_slice(b",\"stream_version\":");
        push_u64(out, self.stream_version);
        out.push(b'}');
    }

    /// The envelope's canonical bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        out
    }

    /// `BLAKE3(tag || canonical bytes)`, the tag [`EVENT_HASH_TAG`] or
    /// (with a stream predecessor) [`EVENT_HASH_TAG_V2`], reusing `scratch`
    /// so that verifying a long ledger does not allocate per event.
    pub fn hash_with(&self, scratch: &mut Vec<u8>) -> Digest {
        scratch.clear();
        self.write_tagged(scratch);
        blake3::hash(scratch).into()
    }

    /// The event hash's whole input, appended to `out`: the tag
    /// ([`EVENT_HASH_TAG`], or [`EVENT_HASH_TAG_V2`] with a stream
    /// predecessor) and the canonical bytes. What the tiles' envelope
    /// bundles carry, so that BLAKE3 of an item is the event hash.
    pub fn write_tagged(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.stream_prev.is_some() {
            EVENT_HASH_TAG_V2
        } else {
            EVENT_HASH_TAG
        });
        self.write_canonical(out);
    }

    pub fn hash(&self) -> Digest {
        self.hash_with(&mut Vec::with_capacity(512))
    }
}

/// The parser's state while [`parse_strict`] reads a text: the number
/// literals not yet visited, the path of the value being read, and the
/// refusal (with its path) that stopped the parse, if any.
struct Strict<'t> {
    literals: std::slice::Iter<'t, &'t str>,
    path: String,
    refused: Option<CanonicalError>,
}

impl Strict<'_> {
    fn number<E: de::Error>(&mut self, n: serde_json::Number) -> Result<Value, E> {
        let reason = match self.literals.next() {
            Some(literal) => number_refusal(literal, &n),
            None => Some("a number the scan of the text did not find".to_string()),
        };
        match reason {
            None => Ok(Value::Number(one_form(n))),
            Some(reason) => Err(self.refuse(reason)),
        }
    }

    fn refuse<E: de::Error>(&mut self, reason: String) -> E {
        let e = E::custom(&reason);
        self.refused = Some(CanonicalError {
            path: self.path.clone(),
            reason,
        });
        e
    }
}

impl<'de> de::DeserializeSeed<'de> for &mut Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.number(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.number(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.number(n),
            None => Err(self.refuse("number is not finite".into())),
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let len = self.path.len();
            let _ = write!(self.path, "[{}]", items.len());
            let next = seq.next_element_seed(&mut *self)?;
            self.path.truncate(len);
            match next {
                Some(v) => items.push(v),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(self.refuse(format!(
                    "duplicate member name {key:?} (a JSON object may name a member once)"
                )));
            }
            let len = self.path.len();
            self.path.push('.');
            self.path.push_str(&key);
            let v = map.next_value_seed(&mut *self)?;
            self.path.truncate(len);
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn duplicate_keys_and_unsafe_integers_are_refused() {
        let e = parse_strict(r#"{"a":1,"b":{"c":2,"c":3}}"#).unwrap_err();
        assert!(e.reason.contains("duplicate member name \"c\""), "{e}");
        let e = parse_strict(r#"{"votes":[1, 9007199254740993]}"#).unwrap_err();
        assert_eq!(e.path, "$.votes[1]");
        assert!(parse_strict(r#"{"votes":[1, 9007199254740991]}"#).is_ok());
        assert!(parse_strict(r#"{"a":1} x"#).is_err());
    }

    #[test]
    fn canonical_json_sorts_keys_and_formats_numbers_as_jcs() {
        let v =
            parse_strict(r#"{"b":1.0,"a":[1e21, 0.000001, "é\u0001"],"é":null,"Z":true}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            "{\"Z\":true,\"a\":[1e+21,0.000001,\"é\\u0001\"],\"b\":1,\"é\":null}"
        );
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9/._-]{0,20}",
            "\\PC{0,12}",
            proptest::collection::vec(any::<char>(), 0..8).prop_map(|v| v.into_iter().collect()),
        ]
    }

    /// Keys that exercise JCS's UTF-16 order: characters outside the BMP
    /// next to ones in U+E000–U+FFFF, where UTF-8 and UTF-16 orders differ.
    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z_]{0,6}",
            proptest::collection::vec(
                prop_oneof![
                    Just('a'),
                    Just('é'),
                    Just('\u{e000}'),
                    Just('\u{ffee}'),
                    Just('\u{1f600}'),
                    Just('\u{10000}'),
                    Just('"'),
                    Just('\u{1}'),
                    any::<char>(),
                ],
                0..4
            )
            .prop_map(|v| v.into_iter().collect()),
        ]
    }

    fn arb_number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            prop_oneof![
                Just(1e21),
                Just(1e-7),
                Just(-0.0),
                Just(0.1 + 0.2),
                Just(5e-324)
            ]
            .prop_map(Value::from),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            arb_number(),
            arb_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(arb_key(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The JCS writer produces exactly what a general RFC 8785
        /// canonicaliser produces, for any value (not only safe integers:
        /// export and verify canonicalise whatever they read).
        #[test]
        fn canonical_json_matches_general_jcs(value in arb_json()) {
            let general = serde_json_canonicalizer::to_string(&value).unwrap();
            prop_assert_eq!(canonical_json(&value), general);
        }
    }

    proptest! {
        /// The fast envelope writer must produce exactly what a general JCS
        /// canonicaliser produces for the same fields, or hashes would not be
        /// reproducible by other tools.
        #[test]
        fn envelope_writer_matches_general_jcs(
            position in 1u64..(1 << 53), stream in arb_text(), version in 1u64..1000,
            event_type in arb_text(), occurred in arb_text(), recorded in arb_text(),
            id in arb_text(), name in arb_text(), role in arb_text(), org in arb_text(),
            d1 in any::<[u8; 32]>(), d2 in any::<[u8; 32]>(),
            d3 in proptest::option::of(any::<[u8; 32]>()),
        ) {
            let (pd, ph) = (Digest(d1), Digest(d2));
            let sp = d3.map(Digest);
            let env = HashedEnvelope {
                position, stream: &stream, stream_version: version,
                event_id: "0190f1c2-0000-7000-8000-000000000001", event_type: &event_type,
                schema_version: 1, occurred_at: &occurred, recorded_at: &recorded,
                actor_id: &id, actor_name: &name, actor_role: &role, actor_org: &org,
                payload_digest: &pd, prev_hash: &ph, stream_prev: sp.as_ref(),
            };
            let mut general = serde_json::json!({
                "position": position, "stream": stream, "stream_version": version,
                "event_id": env.event_id, "event_type": event_type, "schema_version": 1,
                "occurred_at": occurred, "recorded_at": recorded,
                "actor": {"role": role, "org": org, "name": name, "id": id},
                "payload_digest": pd.to_hex(), "prev_hash": ph.to_hex(),
            });
            if let Some(sp) = &sp {
                general["stream_prev_hash"] = serde_json::Value::String(sp.to_hex());
            }
            prop_assert_eq!(String::from_utf8(env.canonical_bytes()).unwrap(), canonical_json(&general));
        }
    }
}
