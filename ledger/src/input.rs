//! Append requests written as JSON: one line of `jishi import`, the stdin of
//! `jishi append`, and (later) the body of the server's raw append call.
//!
//! ```json
//! {"stream": "...", "event_type": "...", "payload": {...},
//!  "actor": {"id": "...", "name": "...", "role": "...", "org": "..."},
//!  "event_id": "uuid", "expected_version": 3 | "any" | "none",
//!  "occurred_at": "2021-03-05T09:30:00+08:00", "schema_version": 1}
//! ```
//!
//! Unknown members are refused: a misspelt `occured_at` silently ignored
//! would record the wrong time for a meeting.

use serde_json::{Map, Value};

use crate::canonical::parse_strict;
use crate::prepare::{json_kind, InvalidField};
use crate::{Actor, AppendRequest, ExpectedVersion, NewEvent};

const MEMBERS: &[&str] = &[
    "stream",
    "event_type",
    "payload",
    "actor",
    "event_id",
    "expected_version",
    "occurred_at",
    "schema_version",
];

/// Parses one JSON text into a one-event append request. `default_actor` is
/// used when the text has no `actor`.
pub fn request_from_json(
    text: &str,
    default_actor: Option<&Actor>,
) -> Result<AppendRequest, InvalidField> {
    let value = parse_strict(text).map_err(|e| json_error("", "json", e))?;
    request_from_value(value, default_actor)
}

/// A refusal of [`parse_strict`] as a field error: a refused value is named
/// by its path under `root` (`payload.votes[1]`); malformed text by `whole`.
pub fn json_error(root: &str, whole: &str, e: crate::canonical::CanonicalError) -> InvalidField {
    match e.field_under(root) {
        Some(field) => InvalidField::new(field, e.reason),
        None => InvalidField::new(whole, format!("malformed JSON: {}", e.reason)),
    }
}

/// As [`request_from_json`], from a parsed value.
pub fn request_from_value(
    value: Value,
    default_actor: Option<&Actor>,
) -> Result<AppendRequest, InvalidField> {
    let Value::Object(mut obj) = value else {
        return Err(InvalidField::new(
            "json",
            format!("an event must be a JSON object, got {}", json_kind(&value)),
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(InvalidField::new(
            unknown.clone(),
            format!("unknown member (known: {})", MEMBERS.join(", ")),
        ));
    }
    let stream = required_string(&mut obj, "stream")?;
    let event_type = required_string(&mut obj, "event_type")?;
    let payload = obj
        .remove("payload")
        .ok_or_else(|| InvalidField::new("payload", "is required"))?;
    if !payload.is_object() {
        return Err(InvalidField::new(
            "payload",
            format!("must be a JSON object, got {}", json_kind(&payload)),
        ));
    }
    let actor = match obj.remove("actor") {
        Some(v) => actor_from_value(v)?,
        None => default_actor.cloned().ok_or_else(|| {
            InvalidField::new("actor", "is required (or give a default with --actor)")
        })?,
    };
    let event_id = match obj.remove("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_event_id(&s)?),
        Some(other) => {
            return Err(InvalidField::new(
                "event_id",
                format!("must be a UUID string, got {}", json_kind(&other)),
            ))
        }
    };
    let expected = match obj.remove("expected_version") {
        None | Some(Value::Null) => ExpectedVersion::Any,
        Some(Value::String(s)) => s.parse().map_err(|_: InvalidField| {
            InvalidField::new(
                "expected_version",
                format!(
                    "unknown stream-version expectation {s:?}: use \"any\", \"none\" or a \
                     version number"
                ),
            )
        })?,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => ExpectedVersion::NoStream,
            Some(v) => ExpectedVersion::Exact(v),
            None => {
                return Err(InvalidField::new(
                    "expected_version",
                    format!("{n} is not a whole number of 0 or more"),
                ))
            }
        },
        Some(other) => {
            return Err(InvalidField::new(
                "expected_version",
                format!(
                    "unknown stream-version expectation ({}): use \"any\", \"none\" or a \
                     version number",
                    json_kind(&other)
                ),
            ))
        }
    };
    let occurred_at = match obj.remove("occurred_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(InvalidField::new(
                "occurred_at",
                format!("must be an RFC 3339 string, got {}", json_kind(&other)),
            ))
        }
    };
    let schema_version = match obj.remove("schema_version") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                InvalidField::new("schema_version", format!("{n} is not a whole number ≥ 1"))
            })?,
        Some(other) => {
            return Err(InvalidField::new(
                "schema_version",
                format!("must be a number, got {}", json_kind(&other)),
            ))
        }
    };
    Ok(AppendRequest {
        stream,
        expected,
        events: vec![NewEvent {
            event_id,
            event_type,
            schema_version,
            occurred_at,
            actor,
            payload,
        }],
    })
}

/// Parses an event id: any UUID form is accepted, stored lowercase hyphenated.
pub fn parse_event_id(s: &str) -> Result<uuid::Uuid, InvalidField> {
    uuid::Uuid::parse_str(s)
        .map_err(|e| InvalidField::new("event_id", format!("{s:?} is not a UUID ({e})")))
}

fn required_string(obj: &mut Map<String, Value>, field: &str) -> Result<String, InvalidField> {
    match obj.remove(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(InvalidField::new(field, "is required")),
        Some(other) => Err(InvalidField::new(
            field,
            format!("must be a string, got {}", json_kind(&other)),
        )),
    }
}

/// An actor from a JSON object `{id, name, role, org}`, all required strings.
pub fn actor_from_value(v: Value) -> Result<Actor, InvalidField> {
    let Value::Object(mut obj) = v else {
        return Err(InvalidField::new(
            "actor",
            format!(
                "must be an object {{id, name, role, org}}, got {}",
                json_kind(&v)
            ),
        ));
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !["id", "name", "role", "org"].contains(&k.as_str()))
    {
        return Err(InvalidField::new(
            format!("actor.{unknown}"),
            "unknown member (known: id, name, role, org)",
        ));
    }
    let mut get = |f: &str| {
        required_string(&mut obj, f).map_err(|e| InvalidField::new(format!("actor.{f}"), e.reason))
    };
    Ok(Actor {
        id: get("id")?,
        name: get("name")?,
        role: get("role")?,
        org: get("org")?,
    })
}

/// An actor written on a command line: a JSON object, or
/// `id=…,name=…,role=…,org=…`.
pub fn parse_actor(text: &str) -> Result<Actor, InvalidField> {
    let t = text.trim();
    if t.starts_with('{') {
        let v = parse_strict(t).map_err(|e| json_error("actor", "actor", e))?;
        return actor_from_value(v);
    }
    let mut obj = Map::new();
    for part in t.split(',') {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            InvalidField::new(
                "actor",
                format!("{part:?} is not key=value; write id=…,name=…,role=…,org=… or JSON"),
            )
        })?;
        obj.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    actor_from_value(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_line_parses() {
        let r = request_from_json(
            r#"{"stream":"s","event_type":"t.x","payload":{"a":1},
                "actor":{"id":"1","name":"n","role":"r","org":"o"},
                "expected_version":"none","occurred_at":"2021-01-01T00:00:00Z"}"#,
            None,
        )
        .unwrap();
        assert_eq!(r.expected, ExpectedVersion::NoStream);
        assert_eq!(r.events[0].actor.org, "o");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"stream":"s","event_type":"t","payload":[]}"#, "payload"),
            (r#"{"event_type":"t","payload":{}}"#, "stream"),
            (r#"{"stream":"s","event_type":"t","payload":{}}"#, "actor"),
            (
                r#"{"stream":"s","event_type":"t","payload":{},"expected_version":"latest",
                    "actor":{"id":"1","name":"n","role":"r","org":"o"}}"#,
                "expected_version",
            ),
            (
                r#"{"stream":"s","event_type":"t","payload":{},"occured_at":"x"}"#,
                "occured_at",
            ),
            (r#"{"stream":"s","#, "json"),
            (
                r#"{"stream":"s","event_type":"t","payload":{},"actor":{"id":"1"}}"#,
                "actor.name",
            ),
        ];
        for (line, field) in cases {
            assert_eq!(
                request_from_json(line, None).unwrap_err().field,
                field,
                "{line}"
            );
        }
    }

    #[test]
    fn actors_parse_from_pairs_or_json() {
        let a = parse_actor("id=u1, name=张伟, role=organisation_department, org=天元区").unwrap();
        assert_eq!(a.name, "张伟");
        assert_eq!(
            parse_actor(r#"{"id":"u1","name":"n","role":"r","org":"o"}"#)
                .unwrap()
                .id,
            "u1"
        );
        assert_eq!(parse_actor("id=u1,name").unwrap_err().field, "actor");
    }
}
