//! Is a stored row one the append path could have written?
//!
//! The chain proves that a row was not changed *after* it was written; it
//! says nothing about a row that was *written* wrongly, with a hash computed
//! correctly over bad fields: by a DBA, by `jishi_app` with plain INSERT, or
//! by a tool that skipped jishi's checks. Such a row passes every hash and
//! link, and then breaks the readers (a payload that is not JSON fails
//! `trail`), or lies about time (a `recorded_at` in the past puts it before
//! events it follows). So `jishi verify` holds every row, once its hashes
//! check, to the rules its fields had to pass on the way in
//! (docs/FORMAT.md §5, step 6), and the Merkle tree adopts no row that fails
//! them (`tree::LeafAdmission`).
//!
//! The rules are the append path's own functions (`prepare`), called on the
//! stored text, not a second copy of them: verify and append cannot
//! disagree about what a valid event is.
//!
//! [`admissible`] is the one entry point, a pure predicate on a row and
//! the row before it. A check that needs more than the row (a signature by
//! the recording key, issue 13) belongs beside it, not inside it.

use chrono::{DateTime, Utc};

use crate::canonical::parse_strict;
use crate::prepare::{
    canonical_payload, check_actor_fields, check_event_type, check_schema_version, check_stream,
    format_recorded_at, normalize_time, InvalidField,
};
use crate::row::StoredRow;
use crate::verify::{Fault, FaultKind};

/// How far `recorded_at` may lie *before* the previous row's: none. The
/// writer never stamps a time earlier than the head's (when its clock steps
/// back it reuses the head's time, docs/FORMAT.md §3), so a legitimate
/// ledger never goes back, even across a clock step or several writers
/// with different clocks; any room here would only be room for a backdated
/// forgery (DECISIONS.md D61).
pub const RECORDED_AT_STEP_BACK_SECS: i64 = 0;

/// Checks one stored row's own fields: `Ok` when the append path could have
/// written it after a row recorded at `previous_recorded_at` (`None` for the
/// first row, or when the previous row is not known). A fault is
/// [`FaultKind::RowMalformed`] at the row's position, its detail naming the
/// field and the reason.
///
/// Checked, in this order: `event_id` (a UUID, lowercase, hyphenated),
/// `stream`, `event_type` (the grammar `[a-z][a-z0-9._-]*`),
/// `schema_version` (≥ 1), the actor (four non-empty names), `recorded_at`
/// (RFC 3339 in the stored form `YYYY-MM-DDTHH:MM:SS.ffffffZ`, not before
/// the previous row's by more than [`RECORDED_AT_STEP_BACK_SECS`]),
/// `occurred_at` (RFC 3339), the payload (UTF-8 JSON, a JSON object, and
/// exactly its RFC 8785 canonical bytes, within the size limit).
///
/// Assumes the row's hashes were checked first (the caller's business): a
/// row whose hash does not match is a changed row, not a malformed one.
pub fn admissible(row: &StoredRow, previous_recorded_at: Option<&str>) -> Result<(), Fault> {
    admissible_with(row, previous_recorded_at, &OwnFields::of(row))
}

/// The checks of [`admissible`] that need nothing but the row itself, made
/// ahead (verify makes them on every core, D80): everything but the one
/// comparison with the previous row's `recorded_at`. Split where that
/// comparison falls, so that [`admissible_with`] reports the same first
/// failure as one pass in [`admissible`]'s order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnFields {
    /// `event_id` to `recorded_at`, the checks before the comparison; `Ok`
    /// holds the row's `recorded_at`.
    before: Result<DateTime<Utc>, InvalidField>,
    /// `occurred_at` and the payload, the checks after it.
    after: Result<(), InvalidField>,
}

impl OwnFields {
    /// Makes every check on `row`'s own fields.
    pub fn of(row: &StoredRow) -> OwnFields {
        OwnFields {
            before: own_before(row),
            after: rfc3339("occurred_at", &row.occurred_at)
                .and_then(|_| check_payload(&row.payload)),
        }
    }
}

/// [`admissible`], with the row's own checks made ahead (`own`, of this very
/// row): the same answer, in the same words.
pub fn admissible_with(
    row: &StoredRow,
    previous_recorded_at: Option<&str>,
    own: &OwnFields,
) -> Result<(), Fault> {
    fields(row, previous_recorded_at, own).map_err(|e| Fault {
        position: u64::try_from(row.position).unwrap_or_default(),
        kind: FaultKind::RowMalformed,
        detail: e.to_string(),
    })
}

fn own_before(row: &StoredRow) -> Result<DateTime<Utc>, InvalidField> {
    check_event_id(&row.event_id)?;
    check_stream(&row.stream)?;
    check_event_type(&row.event_type)?;
    check_schema_version(row.schema_version)?;
    check_actor_fields(
        &row.actor_id,
        &row.actor_name,
        &row.actor_role,
        &row.actor_org,
    )?;
    recorded_at(&row.recorded_at)
}

fn fields(
    row: &StoredRow,
    previous_recorded_at: Option<&str>,
    own: &OwnFields,
) -> Result<(), InvalidField> {
    let recorded = own.before.clone()?;
    if let Some(previous) = previous_recorded_at {
        // Both in the stored form, text order is time order: the usual
        // case, a time at or after the previous one, needs no parsing.
        let in_order = is_stored_form(previous) && row.recorded_at.as_str() >= previous;
        if !in_order {
            if let Ok(before) = recorded_at(previous) {
                let back = (before - recorded).num_microseconds().unwrap_or(i64::MAX);
                if back > RECORDED_AT_STEP_BACK_SECS.saturating_mul(1_000_000) {
                    return Err(InvalidField::new(
                        "recorded_at",
                        format!(
                            "{} is earlier than the previous row's {previous}: recorded times \
                             never go back along positions",
                            row.recorded_at
                        ),
                    ));
                }
            }
        }
    }
    own.after.clone()
}

/// `event_id` as the stores write it: a UUID, lowercase and hyphenated.
fn check_event_id(text: &str) -> Result<(), InvalidField> {
    let id = crate::input::parse_event_id(text)?;
    let mut buf = uuid::Uuid::encode_buffer();
    if &*id.hyphenated().encode_lower(&mut buf) != text {
        return Err(InvalidField::new(
            "event_id",
            format!("{text:?} is not in the stored form (lowercase, hyphenated)"),
        ));
    }
    Ok(())
}

/// An RFC 3339 time, parsed as `prepare` parses one; the refusal is
/// `prepare::normalize_time`'s own.
fn rfc3339(field: &str, text: &str) -> Result<DateTime<Utc>, InvalidField> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Ok(t.with_timezone(&Utc)),
        Err(e) => Err(normalize_time(field, text)
            .err()
            .unwrap_or_else(|| InvalidField::new(field, e.to_string()))),
    }
}

/// `recorded_at` as the ledger stamps it ([`format_recorded_at`]): UTC,
/// exactly six fractional digits, `Z`.
fn recorded_at(text: &str) -> Result<DateTime<Utc>, InvalidField> {
    let t = rfc3339("recorded_at", text)?;
    if !is_stored_form(text) || format_recorded_at(t) != text {
        return Err(InvalidField::new(
            "recorded_at",
            format!(
                "{text:?} is not in the stored form YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC, \
                 microseconds)"
            ),
        ));
    }
    Ok(t)
}

/// The shape of a stored `recorded_at`, `YYYY-MM-DDTHH:MM:SS.ffffffZ`,
/// byte by byte (not whether the date exists: [`recorded_at`] parses it).
fn is_stored_form(text: &str) -> bool {
    const SHAPE: &[u8; 27] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    let b = text.as_bytes();
    b.len() == SHAPE.len()
        && b.iter().zip(SHAPE).all(|(c, s)| {
            if *s == b'd' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
}

/// The payload's stored bytes: UTF-8 JSON of an object, byte for byte its
/// canonical form (what `prepare` stores), within the size limit.
///
/// Verify runs this on every row, and the strict parser's literal scan and
/// path tracking more than doubled its cost, so a payload is first tried
/// with plain serde_json: if that value passes `canonical_payload` and its
/// canonical form is the stored text, the strict parser would accept it too
/// (what it refuses, a member name twice or a number JCS would change,
/// cannot give back the stored text). Anything else, including what plain
/// serde_json reads differently (an integer beyond 2^53 that the strict
/// parser reads as the double it was stored from), is judged by the strict
/// path, exactly as the append path judges it.
fn check_payload(bytes: &[u8]) -> Result<(), InvalidField> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        InvalidField::new(
            "payload",
            format!("is not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let quick = serde_json::from_str(text)
        .ok()
        .and_then(|v| canonical_payload(&v).ok())
        .is_some_and(|c| c == text);
    if quick {
        return Ok(());
    }
    let value =
        parse_strict(text).map_err(|e| crate::input::json_error("payload", "payload", e))?;
    if canonical_payload(&value)? != text {
        return Err(InvalidField::new(
            "payload",
            "is JSON but not in its canonical form (RFC 8785), which is what the ledger stores",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> StoredRow {
        StoredRow {
            position: 2,
            stream: "candidate/c1".into(),
            stream_version: 1,
            event_id: "018f2a6e-0000-7000-8000-000000000002".into(),
            event_type: "candidate.nominated".into(),
            schema_version: 1,
            occurred_at: "2021-03-08T15:30:00.250+08:00".into(),
            recorded_at: "2021-03-08T07:31:12.345678Z".into(),
            actor_id: "zzb-002".into(),
            actor_name: "王芳".into(),
            actor_role: "organisation_department".into(),
            actor_org: "天元区".into(),
            payload: br#"{"a":1,"b":[true,null]}"#.to_vec(),
            payload_digest: vec![0; 32],
            prev_hash: vec![0; 32],
            stream_prev: Some(vec![0; 32]),
            hash: vec![0; 32],
        }
    }

    const PREVIOUS: Option<&str> = Some("2021-03-08T07:31:12.345678Z");

    #[test]
    fn a_row_the_append_path_writes_is_admissible() {
        assert_eq!(admissible(&row(), PREVIOUS), Ok(()));
        assert_eq!(admissible(&row(), None), Ok(()));
        // occurred_at equal to recorded_at (no time given) is RFC 3339 too.
        let mut r = row();
        r.occurred_at = r.recorded_at.clone();
        assert_eq!(admissible(&r, PREVIOUS), Ok(()));
    }

    /// What the append path stores, read back, is admissible, including a
    /// double that plain serde_json would read as an integer beyond 2^53.
    #[test]
    fn payloads_the_append_path_stores_are_admissible() {
        for v in [
            serde_json::json!({"a": [[4.216328758584845e18]]}),
            serde_json::json!({"ratio": 1e21, "small": 0.000001, "neg": -1.5}),
            serde_json::json!({"z": 1, "a": {"y": [], "b": {}}, "s": "\u{1}\"😀"}),
        ] {
            let mut r = row();
            r.payload = canonical_payload(&v).expect("accepted").into_bytes();
            assert_eq!(admissible(&r, PREVIOUS), Ok(()), "{v}");
        }
    }

    #[test]
    fn each_malformed_field_is_named_at_the_rows_position() {
        type Edit = fn(&mut StoredRow);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "backwards",
                |r| r.recorded_at = "2021-03-08T07:31:12.345677Z".into(),
                "recorded_at: ",
            ),
            (
                "yesterday",
                |r| r.recorded_at = "yesterday".into(),
                "recorded_at: \"yesterday\"",
            ),
            (
                "offset",
                |r| r.recorded_at = "2021-03-08T15:31:12.345678+08:00".into(),
                "recorded_at: ",
            ),
            (
                "occurred",
                |r| r.occurred_at = "2021-13-45 nonsense".into(),
                "occurred_at: ",
            ),
            (
                "not json",
                |r| r.payload = b"{not json".to_vec(),
                "payload: malformed JSON",
            ),
            (
                "array",
                |r| r.payload = b"[1,2]".to_vec(),
                "payload: must be a JSON object, got an array",
            ),
            (
                "spaced",
                |r| r.payload = br#"{"a": 1}"#.to_vec(),
                "payload: is JSON but not in its canonical form",
            ),
            (
                "utf8",
                |r| r.payload = vec![b'{', 0xff, b'}'],
                "payload: is not UTF-8",
            ),
            (
                "type",
                |r| r.event_type = "Bad Type!".into(),
                "event_type: \"Bad Type!\" must start",
            ),
            (
                "name",
                |r| r.actor_name = String::new(),
                "actor.name: must not be empty",
            ),
            (
                "id",
                |r| r.actor_id = String::new(),
                "actor.id: must not be empty",
            ),
            ("schema", |r| r.schema_version = 0, "schema_version: is 0"),
            (
                "uuid",
                |r| r.event_id = "018F2A6E-0000-7000-8000-000000000002".into(),
                "event_id: ",
            ),
        ];
        let mut passed = Vec::new();
        for (name, edit, want) in cases {
            let mut r = row();
            edit(&mut r);
            match admissible(&r, PREVIOUS) {
                Err(f)
                    if f.kind == FaultKind::RowMalformed
                        && f.position == 2
                        && f.detail.starts_with(want) => {}
                other => passed.push(format!("{name}: {other:?}")),
            }
        }
        assert!(passed.is_empty(), "not caught as expected: {passed:#?}");
    }
}
