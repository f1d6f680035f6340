//! Checking and canonicalising an event before any store sees it.
//!
//! Everything that can be decided without the ledger's state happens here, out
//! of the writer's critical section: field checks, canonical payload bytes and
//! the payload digest. A store then only assigns positions and chains hashes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::canonical::{canonical_json, check_numbers, payload_digest};
use crate::{Actor, Digest, NewEvent};

/// The largest canonical payload accepted. A payload describes one step of a
/// selection; a scanned document belongs outside the ledger, referenced by digest.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Longest stream name, event type or actor field, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// How far `occurred_at` may lie ahead of the ledger's clock (clock skew between
/// a recorder's machine and the ledger), before it is refused as "in the future".
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// A field that failed a check; `field` is the envelope field's name (with a
/// JSON path for payload problems) and `reason` says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// An event whose fields passed every check, with its payload in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEvent {
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub schema_version: u32,
    /// Normalised RFC 3339, or `None` to take the recorded time.
    pub occurred_at: Option<String>,
    pub actor: Actor,
    pub payload: String,
    pub payload_digest: Digest,
}

/// Checks a stream name: what identifies an entity must be printable and short.
pub fn check_stream(stream: &str) -> Result<(), InvalidField> {
    check_name("stream", stream)
}

fn check_name(field: &str, value: &str) -> Result<(), InvalidField> {
    if value.is_empty() {
        return Err(InvalidField::new(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(InvalidField::new(
            field,
            format!("is {} bytes long, at most {MAX_NAME_BYTES}", value.len()),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(InvalidField::new(
            field,
            format!("contains the control character U+{:04X}", c as u32),
        ));
    }
    if value.trim() != value {
        return Err(InvalidField::new(
            field,
            "has leading or trailing white space",
        ));
    }
    Ok(())
}

/// Checks an event type against its grammar, `[a-z][a-z0-9._-]*` (docs/FORMAT.md
/// §1). `jishi verify` checks stored rows with this same function
/// (`validity`), so that the two can never disagree.
pub(crate) fn check_event_type(event_type: &str) -> Result<(), InvalidField> {
    check_name("event_type", event_type)?;
    let ok = event_type
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok || !event_type.as_bytes()[0].is_ascii_lowercase() {
        return Err(InvalidField::new(
            "event_type",
            format!(
                "{event_type:?} must start with a-z and use only a-z, 0-9, '.', '_' and '-' \
                 (for example \"candidate.nominated\")"
            ),
        ));
    }
    Ok(())
}

fn check_actor(actor: &Actor) -> Result<(), InvalidField> {
    check_actor_fields(&actor.id, &actor.name, &actor.role, &actor.org)
}

/// The actor's four fields, each a non-empty name (see [`check_stream`]'s
/// rule); shared with `validity`, which reads them from a stored row.
pub(crate) fn check_actor_fields(
    id: &str,
    name: &str,
    role: &str,
    org: &str,
) -> Result<(), InvalidField> {
    check_name("actor.id", id)?;
    check_name("actor.name", name)?;
    check_name("actor.role", role)?;
    check_name("actor.org", org)
}

/// A payload schema version is 1 or more and fits the envelope's `u32`.
pub(crate) fn check_schema_version(version: i64) -> Result<u32, InvalidField> {
    match u32::try_from(version) {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(InvalidField::new(
            "schema_version",
            format!("is {version}: must be 1 or more"),
        )),
    }
}

/// The canonical bytes (RFC 8785) of a payload, checked as the append path
/// checks every payload: a JSON object, every number kept in value (D44),
/// at most [`MAX_PAYLOAD_BYTES`] in canonical form. `validity` re-runs it on
/// a stored payload and requires the stored bytes to be its result.
pub(crate) fn canonical_payload(payload: &Value) -> Result<String, InvalidField> {
    if !matches!(payload, Value::Object(_)) {
        return Err(InvalidField::new(
            "payload",
            format!("must be a JSON object, got {}", json_kind(payload)),
        ));
    }
    check_numbers(payload, &mut String::from("payload"))
        .map_err(|e| InvalidField::new(e.path, e.reason))?;
    let canonical = canonical_json(payload);
    if canonical.len() > MAX_PAYLOAD_BYTES {
        return Err(InvalidField::new(
            "payload",
            format!(
                "is {} bytes in canonical form, more than the limit of {MAX_PAYLOAD_BYTES} \
                 (store large documents elsewhere and record their digest)",
                canonical.len()
            ),
        ));
    }
    Ok(canonical)
}

/// Parses an RFC 3339 time and writes it in the one form the ledger stores:
/// `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff](Z|±HH:MM)`, keeping the offset
/// the recorder gave (a meeting in Beijing stays at +08:00).
pub fn normalize_time(field: &str, text: &str) -> Result<String, InvalidField> {
    let t = DateTime::parse_from_rfc3339(text).map_err(|e| {
        InvalidField::new(
            field,
            format!("{text:?} is not an RFC 3339 time like 2021-03-05T09:30:00+08:00 ({e})"),
        )
    })?;
    Ok(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// The recorded time as stored: UTC with microseconds, so that times of one
/// ledger compare correctly as text too.
pub fn format_recorded_at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Checks an event and canonicalises its payload. `now` bounds `occurred_at`.
pub fn prepare(event: NewEvent, now: DateTime<Utc>) -> Result<PreparedEvent, InvalidField> {
    check_event_type(&event.event_type)?;
    check_schema_version(i64::from(event.schema_version))?;
    check_actor(&event.actor)?;
    let occurred_at = match event.occurred_at {
        None => None,
        Some(text) => {
            let norm = normalize_time("occurred_at", &text)?;
            if let Ok(t) = DateTime::parse_from_rfc3339(&norm) {
                if (t.with_timezone(&Utc) - now).num_seconds() > MAX_CLOCK_SKEW_SECS {
                    return Err(InvalidField::new(
                        "occurred_at",
                        format!("{text} is in the future (the ledger's clock reads {now})"),
                    ));
                }
            }
            Some(norm)
        }
    };
    let payload = canonical_payload(&event.payload)?;
    let payload_digest = payload_digest(payload.as_bytes());
    Ok(PreparedEvent {
        event_id: event.event_id.unwrap_or_else(uuid::Uuid::now_v7),
        event_type: event.event_type,
        schema_version: event.schema_version,
        occurred_at,
        actor: event.actor,
        payload,
        payload_digest,
    })
}

/// "an array", "a string", …: for messages about a value of the wrong kind.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(payload: Value) -> NewEvent {
        NewEvent {
            event_id: None,
            event_type: "candidate.nominated".into(),
            schema_version: 1,
            occurred_at: Some("2021-03-05T09:30:00.500+08:00".into()),
            actor: Actor {
                id: "a1".into(),
                name: "张伟".into(),
                role: "organisation_department".into(),
                org: "天元区".into(),
            },
            payload,
        }
    }

    #[test]
    fn times_are_normalised_and_future_times_refused() {
        let now = Utc::now();
        let p = prepare(ev(json!({"b": 2, "a": 1})), now).unwrap();
        assert_eq!(
            p.occurred_at.as_deref(),
            Some("2021-03-05T09:30:00.500+08:00")
        );
        assert_eq!(p.payload, r#"{"a":1,"b":2}"#);
        let mut e = ev(json!({}));
        e.occurred_at = Some("2999-01-01T00:00:00Z".into());
        assert_eq!(prepare(e, now).unwrap_err().field, "occurred_at");
        let mut e = ev(json!({}));
        e.occurred_at = Some("yesterday".into());
        assert_eq!(prepare(e, now).unwrap_err().field, "occurred_at");
    }

    #[test]
    fn time_normalisation_is_as_format_md_says() {
        for (given, stored) in [
            ("2021-03-05T09:30:00+00:00", "2021-03-05T09:30:00Z"),
            (
                "2021-03-05t09:30:00.25+08:00",
                "2021-03-05T09:30:00.250+08:00",
            ),
            (
                "2021-03-05T09:30:00.1234+08:00",
                "2021-03-05T09:30:00.123400+08:00",
            ),
        ] {
            assert_eq!(normalize_time("t", given).unwrap(), stored);
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let now = Utc::now();
        assert_eq!(prepare(ev(json!([1])), now).unwrap_err().field, "payload");
        let mut e = ev(json!({}));
        e.actor.org = " ".into();
        assert_eq!(prepare(e, now).unwrap_err().field, "actor.org");
        let mut e = ev(json!({}));
        e.event_type = "Candidate Nominated".into();
        assert_eq!(prepare(e, now).unwrap_err().field, "event_type");
        let big = "x".repeat(MAX_PAYLOAD_BYTES);
        assert_eq!(
            prepare(ev(json!({ "scan": big })), now).unwrap_err().field,
            "payload"
        );
        let e = prepare(ev(json!({"n": [u64::MAX]})), now).unwrap_err();
        assert_eq!(e.field, "payload.n[0]");
    }
}
