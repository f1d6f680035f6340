//! Commands: what a user asks to record. A command is the event it wants to become
//! (same kind, same fields) plus the target, the time it happened and any override
//! it invokes. The acting `Actor` travels beside the command, never inside its JSON,
//! so that a user cannot claim someone else's identity by typing it.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::events::{kind_of, EventBody, EventError, EventKind, Header, CATALOGUE};
use crate::rules::{RuleId, UnknownRule};

/// `--override R2 --justification "..."`: record despite the rule, openly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    pub rule: RuleId,
    pub justification: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub election_id: String,
    /// Required for candidate-level kinds; it identifies the person within this
    /// election (so it is also the id used for proxies, committee membership and
    /// votes).
    pub candidate_id: Option<String>,
    /// When the act happened in the world. Every time rule reads this, never the
    /// clock, which keeps `decide` pure.
    pub occurred_at: DateTime<FixedOffset>,
    pub body: EventBody,
    pub overrides: Vec<OverrideRequest>,
}

/// A command could not be built from its JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown kind {kind:?}; recordable kinds: {known}")]
    UnknownKind { kind: String, known: String },
    #[error("{kind} is emitted by jishi itself and cannot be recorded directly")]
    NotRecordable { kind: String },
    #[error("{kind}: the command must be a JSON object")]
    NotAnObject { kind: String },
    #[error("{kind}: field `{field}` is invalid: {reason}")]
    Field {
        kind: String,
        field: String,
        reason: String,
    },
    #[error("{kind}: {reason}")]
    Invalid { kind: String, reason: String },
}

impl From<EventError> for CommandError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::UnknownType(kind) => CommandError::UnknownKind {
                kind,
                known: recordable_kinds().join(", "),
            },
            EventError::NotAnObject { event_type } => {
                CommandError::NotAnObject { kind: event_type }
            }
            EventError::InvalidField {
                event_type,
                field,
                reason,
            } => CommandError::Field {
                kind: event_type,
                field,
                reason,
            },
            EventError::Invalid { event_type, reason } => CommandError::Invalid {
                kind: event_type,
                reason,
            },
            EventError::UnsupportedVersion { event_type, .. } => CommandError::Invalid {
                kind: event_type,
                reason: "unsupported schema version".into(),
            },
        }
    }
}

fn recordable_kinds() -> Vec<&'static str> {
    Command::kinds().map(|k| k.event_type).collect()
}

impl Command {
    pub fn new(
        election_id: &str,
        candidate_id: Option<&str>,
        occurred_at: DateTime<FixedOffset>,
        body: EventBody,
    ) -> Command {
        Command {
            election_id: election_id.to_string(),
            candidate_id: candidate_id.map(str::to_string),
            occurred_at,
            body,
            overrides: Vec::new(),
        }
    }

    /// The JSON object [`Command::from_json`] reads back into this command: a
    /// client (the load benchmark, a script) sends exactly what the CLI takes.
    pub fn to_json(&self) -> Value {
        let event = crate::events::DomainEvent {
            election_id: self.election_id.clone(),
            candidate_id: self.candidate_id.clone(),
            occurred_at: self.occurred_at,
            body: self.body.clone(),
        };
        let mut value = event.to_payload();
        if !self.overrides.is_empty() {
            if let Value::Object(map) = &mut value {
                let list = self
                    .overrides
                    .iter()
                    .map(|o| {
                        serde_json::json!({
                            "rule": o.rule.as_str(),
                            "justification": o.justification,
                        })
                    })
                    .collect();
                map.insert("override".into(), Value::Array(list));
            }
        }
        value
    }

    pub fn with_override(mut self, rule: RuleId, justification: &str) -> Command {
        self.overrides.push(OverrideRequest {
            rule,
            justification: justification.to_string(),
        });
        self
    }

    /// The event type this command records.
    pub fn kind(&self) -> &'static str {
        self.body.event_type()
    }

    /// The kinds a user may record, with their fields, for `jishi record --help`.
    pub fn kinds() -> impl Iterator<Item = &'static EventKind> {
        CATALOGUE.iter().filter(|k| k.recordable)
    }

    /// Builds a command from `jishi record KIND --json '{...}'` (or from `--set`
    /// pairs turned into JSON by [`Command::json_from_pairs`]). The object holds
    /// `election_id`, `candidate_id` (candidate-level kinds), `occurred_at` (RFC 3339
    /// with offset), optionally `override` (`{"rule": "R2", "justification": "..."}`
    /// or a list of them), and the kind's own fields.
    pub fn from_json(kind: &str, value: Value) -> Result<Command, CommandError> {
        let entry = kind_of(kind).ok_or_else(|| CommandError::UnknownKind {
            kind: kind.to_string(),
            known: recordable_kinds().join(", "),
        })?;
        if !entry.recordable {
            return Err(CommandError::NotRecordable { kind: kind.into() });
        }
        let Value::Object(mut map) = value else {
            return Err(CommandError::NotAnObject { kind: kind.into() });
        };
        let overrides = match map.remove("override") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| parse_override(kind, v))
                .collect::<Result<_, _>>()?,
            Some(v) => vec![parse_override(kind, &v)?],
        };
        let header = Header::take(kind, &mut map)?;
        let body = EventBody::from_fields(kind, map)?;
        Ok(Command {
            election_id: header.election_id,
            candidate_id: header.candidate_id,
            occurred_at: header.occurred_at,
            body,
            overrides,
        })
    }

    /// Turns `--set key=value` pairs into the JSON object `from_json` reads. Values
    /// of text fields stay text (so `007` keeps its zeros); other values are read as
    /// JSON (numbers, booleans, lists, objects) and fall back to text, so that a
    /// wrong type is then reported by `from_json` with the field's name.
    pub fn json_from_pairs(kind: &str, pairs: &[(String, String)]) -> Result<Value, CommandError> {
        let entry = kind_of(kind).ok_or_else(|| CommandError::UnknownKind {
            kind: kind.to_string(),
            known: recordable_kinds().join(", "),
        })?;
        let mut map = Map::new();
        for (key, raw) in pairs {
            let text_field = ["election_id", "candidate_id", "occurred_at"].contains(&key.as_str())
                || entry.fields.iter().any(|f| {
                    f.name == key
                        && matches!(f.ty.replace(' ', "").as_str(), "String" | "Option<String>")
                });
            let value = if text_field {
                Value::String(raw.clone())
            } else {
                serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()))
            };
            if map.insert(key.clone(), value).is_some() {
                return Err(CommandError::Field {
                    kind: kind.into(),
                    field: key.clone(),
                    reason: "given more than once".into(),
                });
            }
        }
        Ok(Value::Object(map))
    }
}

fn parse_override(kind: &str, v: &Value) -> Result<OverrideRequest, CommandError> {
    let field = |reason: String| CommandError::Field {
        kind: kind.into(),
        field: "override".into(),
        reason,
    };
    let Value::Object(o) = v else {
        return Err(field(
            "must be {\"rule\": \"R…\", \"justification\": \"…\"}".into(),
        ));
    };
    let rule = match o.get("rule") {
        Some(Value::String(s)) => s
            .parse::<RuleId>()
            .map_err(|e: UnknownRule| field(e.to_string()))?,
        _ => return Err(field("`rule` is missing (R1 to R13)".into())),
    };
    let justification = match o.get("justification") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(field(format!(
                "`justification` for {rule} is missing or empty"
            )))
        }
    };
    if let Some(extra) = o.keys().find(|k| *k != "rule" && *k != "justification") {
        return Err(field(format!("unknown key `{extra}`")));
    }
    Ok(OverrideRequest {
        rule,
        justification,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_json_reads_header_override_and_body() {
        let cmd = Command::from_json(
            "candidate.shortlisted",
            json!({
                "election_id": "e1", "candidate_id": "c1",
                "occurred_at": "2021-04-01T09:00:00+08:00",
                "basis": "会议推荐得票靠前",
                "override": {"rule": "r1", "justification": "经党委研究"}
            }),
        )
        .unwrap();
        assert_eq!(cmd.candidate_id.as_deref(), Some("c1"));
        assert_eq!(cmd.overrides[0].rule, RuleId::R1);
        assert_eq!(cmd.kind(), "candidate.shortlisted");
    }

    #[test]
    fn to_json_reads_back_as_the_same_command() {
        let text = json!({
            "election_id": "e1", "candidate_id": "c1",
            "occurred_at": "2021-04-01T09:00:00+08:00",
            "basis": "会议推荐得票靠前",
            "override": [{"rule": "R1", "justification": "经党委研究"}]
        });
        let cmd = Command::from_json("candidate.shortlisted", text).unwrap();
        let again = Command::from_json(cmd.kind(), cmd.to_json()).unwrap();
        assert_eq!(again, cmd);
    }

    #[test]
    fn errors_name_the_field() {
        let err = Command::from_json(
            "candidate.shortlisted",
            json!({"election_id": "e1", "candidate_id": "c1", "basis": "x"}),
        )
        .unwrap_err();
        assert!(
            matches!(&err, CommandError::Field { field, .. } if field == "occurred_at"),
            "{err}"
        );
        let err = Command::from_json(
            "candidate.shortlisted",
            json!({"election_id": "e1", "occurred_at": "2021-04-01T09:00:00+08:00", "basis": "x",
                   "override": {"rule": "R2"}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("justification"), "{err}");
        let err = Command::from_json("override.recorded", json!({})).unwrap_err();
        assert!(matches!(err, CommandError::NotRecordable { .. }));
        let err = Command::from_json("candidate.teleported", json!({})).unwrap_err();
        assert!(err.to_string().contains("candidate.nominated"), "{err}");
    }

    #[test]
    fn set_pairs_keep_text_fields_as_text_and_parse_the_rest() {
        let pairs: Vec<(String, String)> = [
            ("election_id", "e1"),
            ("occurred_at", "2021-04-01T09:00:00+08:00"),
            ("unit_id", "007"),
            ("unit_name", "青山镇"),
            ("unit_org", "天元区/青山镇"),
            ("body", "镇党委委员"),
            ("kind", "township_party_committee"),
            ("seats", "7"),
            ("term", "2021-2026"),
            ("last_term_differential_ratio", "0.2"),
            ("election_committee", "[\"p1\",\"p2\"]"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let value = Command::json_from_pairs("election.opened", &pairs).unwrap();
        assert_eq!(value["unit_id"], json!("007"));
        assert_eq!(value["seats"], json!(7));
        let cmd = Command::from_json("election.opened", value).unwrap();
        match cmd.body {
            EventBody::ElectionOpened(b) => {
                assert_eq!(b.seats, 7);
                assert_eq!(b.election_committee, vec!["p1", "p2"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
