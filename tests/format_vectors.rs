//! The test vectors of docs/FORMAT.md: recomputed here from their inputs, and
//! required to appear in the document byte for byte, so the two cannot drift.

use jishi_ledger::canonical::{canonical_json, HashedEnvelope};
use jishi_ledger::prepare::prepare;
use jishi_ledger::store::seal;
use jishi_ledger::{Actor, Digest, NewEvent, RecordedEvent};
use serde_json::json;

struct Vector {
    input: NewEvent,
    stream: &'static str,
    stream_version: u64,
    recorded_at: &'static str,
    canonical_payload: &'static str,
    payload_digest: &'static str,
    canonical_envelope: &'static str,
    hash: &'static str,
}

fn actor(id: &str, name: &str, role: &str, org: &str) -> Actor {
    Actor {
        id: id.into(),
        name: name.into(),
        role: role.into(),
        org: org.into(),
    }
}

fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            input: NewEvent {
                event_id: Some(uuid::uuid!("018f2a6e-0000-7000-8000-000000000001")),
                event_type: "election.opened".into(),
                schema_version: 1,
                occurred_at: Some("2021-03-01T09:00:00+08:00".into()),
                actor: actor("zzb-001", "张伟", "organisation_department", "天元区"),
                payload: json!({"unit": "青山镇", "body": "党委", "seats": 7, "term": "2021-2026"}),
            },
            stream: "election/qingshan-2021",
            stream_version: 1,
            recorded_at: "2021-03-01T02:05:00.000000Z",
            canonical_payload: r#"{"body":"党委","seats":7,"term":"2021-2026","unit":"青山镇"}"#,
            payload_digest: "6e10a44600564b667135be4ac5759e96591215a69e93df93572fc830fc51840e",
            canonical_envelope: r#"{"actor":{"id":"zzb-001","name":"张伟","org":"天元区","role":"organisation_department"},"event_id":"018f2a6e-0000-7000-8000-000000000001","event_type":"election.opened","occurred_at":"2021-03-01T09:00:00+08:00","payload_digest":"6e10a44600564b667135be4ac5759e96591215a69e93df93572fc830fc51840e","position":1,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","recorded_at":"2021-03-01T02:05:00.000000Z","schema_version":1,"stream":"election/qingshan-2021","stream_version":1}"#,
            hash: "ccdedf45aff749a2f22fb4bb110419e8a11e47391feeea40fb36ce7c1a6d7f49",
        },
        Vector {
            input: NewEvent {
                event_id: Some(uuid::uuid!("018f2a6e-0000-7000-8000-000000000002")),
                event_type: "candidate.nominated".into(),
                schema_version: 1,
                occurred_at: Some("2021-03-08T15:30:00.250+08:00".into()),
                actor: actor(
                    "zzb-002",
                    "王芳",
                    "organisation_department",
                    "天元区/青山镇",
                ),
                payload: json!({
                    "candidate_id": "c-0042",
                    "name": "李明",
                    "method": "会议推荐",
                    "recommendation_votes": 41,
                    "vote_share": 0.82,
                    "ratio": 1e21,
                    "small": 0.000001,
                    "flags": [true, false, null]
                }),
            },
            stream: "election/qingshan-2021/candidate/c-0042",
            stream_version: 1,
            recorded_at: "2021-03-08T07:31:12.345678Z",
            canonical_payload: r#"{"candidate_id":"c-0042","flags":[true,false,null],"method":"会议推荐","name":"李明","ratio":1e+21,"recommendation_votes":41,"small":0.000001,"vote_share":0.82}"#,
            payload_digest: "0a9008e62485a26dba28ec061f4901ab632b8aa03d52692b0f5dbc71442f7e36",
            canonical_envelope: r#"{"actor":{"id":"zzb-002","name":"王芳","org":"天元区/青山镇","role":"organisation_department"},"event_id":"018f2a6e-0000-7000-8000-000000000002","event_type":"candidate.nominated","occurred_at":"2021-03-08T15:30:00.250+08:00","payload_digest":"0a9008e62485a26dba28ec061f4901ab632b8aa03d52692b0f5dbc71442f7e36","position":2,"prev_hash":"ccdedf45aff749a2f22fb4bb110419e8a11e47391feeea40fb36ce7c1a6d7f49","recorded_at":"2021-03-08T07:31:12.345678Z","schema_version":1,"stream":"election/qingshan-2021/candidate/c-0042","stream_version":1}"#,
            hash: "b582b9ca37c95af207a7895d7a0509207c187745b32a315584b3d58f64ce4ec0",
        },
        Vector {
            input: NewEvent {
                event_id: Some(uuid::uuid!("018f2a6e-0000-7000-8000-000000000003")),
                event_type: "check.petition_received".into(),
                schema_version: 2,
                occurred_at: Some("2021-03-09T10:00:00Z".into()),
                actor: actor("jw-007", "赵\"磊\"", "discipline_inspection", "天元区纪委"),
                payload: json!({
                    "summary": "反映\t\"拉票\"\n问题\\线索",
                    "control": "\u{1}\u{1f}",
                    "emoji": "😀",
                    "z": 1, "a": {"y": [], "b": {}}
                }),
            },
            stream: "election/qingshan-2021/candidate/c-0042",
            stream_version: 2,
            recorded_at: "2021-03-09T02:00:01.000001Z",
            canonical_payload: r#"{"a":{"b":{},"y":[]},"control":"\u0001\u001f","emoji":"😀","summary":"反映\t\"拉票\"\n问题\\线索","z":1}"#,
            payload_digest: "5c8a7de64788241ebcb8cc3101a765006508fbda0ee07df47790a9ed120549af",
            canonical_envelope: r#"{"actor":{"id":"jw-007","name":"赵\"磊\"","org":"天元区纪委","role":"discipline_inspection"},"event_id":"018f2a6e-0000-7000-8000-000000000003","event_type":"check.petition_received","occurred_at":"2021-03-09T10:00:00Z","payload_digest":"5c8a7de64788241ebcb8cc3101a765006508fbda0ee07df47790a9ed120549af","position":3,"prev_hash":"b582b9ca37c95af207a7895d7a0509207c187745b32a315584b3d58f64ce4ec0","recorded_at":"2021-03-09T02:00:01.000001Z","schema_version":2,"stream":"election/qingshan-2021/candidate/c-0042","stream_version":2}"#,
            hash: "51a224c8d8670f49b6c5d16415d042267b060e50a2fce35967d1c39f83ab1ae6",
        },
        // Format 3 (docs/FORMAT.md §10): commits to the stream's previous
        // event, vector 3, through `stream_prev_hash`.
        Vector {
            input: NewEvent {
                event_id: Some(uuid::uuid!("018f2a6e-0000-7000-8000-000000000004")),
                event_type: "inspection.reported".into(),
                schema_version: 1,
                occurred_at: Some("2021-03-12T16:00:00+08:00".into()),
                actor: actor("zzb-003", "陈静", "inspection_team", "天元区委组织部"),
                payload: json!({"结论": "优秀", "谈话人数": 23}),
            },
            stream: "election/qingshan-2021/candidate/c-0042",
            stream_version: 3,
            recorded_at: "2021-03-12T08:10:00.500000Z",
            canonical_payload: VEC4_PAYLOAD,
            payload_digest: VEC4_DIGEST,
            canonical_envelope: VEC4_ENVELOPE,
            hash: VEC4_HASH,
        },
    ]
}

const VEC4_PAYLOAD: &str = r#"{"结论":"优秀","谈话人数":23}"#;
const VEC4_DIGEST: &str = "31fe86ac322448154d6f95c7d728d518a646154daba1905d8e13eea780f1c06a";
const VEC4_ENVELOPE: &str = r#"{"actor":{"id":"zzb-003","name":"陈静","org":"天元区委组织部","role":"inspection_team"},"event_id":"018f2a6e-0000-7000-8000-000000000004","event_type":"inspection.reported","occurred_at":"2021-03-12T16:00:00+08:00","payload_digest":"31fe86ac322448154d6f95c7d728d518a646154daba1905d8e13eea780f1c06a","position":4,"prev_hash":"51a224c8d8670f49b6c5d16415d042267b060e50a2fce35967d1c39f83ab1ae6","recorded_at":"2021-03-12T08:10:00.500000Z","schema_version":1,"stream":"election/qingshan-2021/candidate/c-0042","stream_prev_hash":"51a224c8d8670f49b6c5d16415d042267b060e50a2fce35967d1c39f83ab1ae6","stream_version":3}"#;
const VEC4_HASH: &str = "c65ff184f537ec1d9fc1abfeab2e2a1edbd7d889dc6a14fb6bde41fce626c7d0";

/// Seals the vectors in order, each chained onto the one before. Vectors
/// 1–3 are of format 1 (no stream predecessor, tag `jishi.event.v1`), as
/// ledgers recorded them before format 3; vector 4 is of format 3.
fn sealed() -> Vec<(Vector, RecordedEvent, String, String)> {
    let now = chrono::Utc::now();
    let mut prev = Digest::ZERO;
    let mut stream_last = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (i, v) in vectors().into_iter().enumerate() {
        let prepared = prepare(v.input.clone(), now).expect("vector input is valid");
        let stream_prev = stream_last.get(v.stream).copied().unwrap_or(Digest::ZERO);
        let mut e = seal(
            v.stream,
            v.stream_version,
            &prepared,
            i as u64 + 1,
            (prev, stream_prev),
            v.recorded_at.to_string(),
        );
        if i < 3 {
            e.stream_prev = None;
            let id = e.event_id.hyphenated().to_string();
            e.hash = HashedEnvelope::of(&e, &id).hash();
        }
        prev = e.hash;
        stream_last.insert(v.stream, e.hash);
        let id = e.event_id.hyphenated().to_string();
        let envelope = String::from_utf8(HashedEnvelope::of(&e, &id).canonical_bytes()).unwrap();
        let payload = canonical_json(&v.input.payload);
        out.push((v, e, payload, envelope));
    }
    out
}

#[test]
fn vectors_recompute() {
    for (i, (v, e, payload, envelope)) in sealed().into_iter().enumerate() {
        if std::env::var_os("JISHI_PRINT_VECTORS").is_some() {
            println!("VEC{}_PAYLOAD\n{payload}\nVEC{}_DIGEST\n{}\nVEC{}_ENVELOPE\n{envelope}\nVEC{}_HASH\n{}\n",
                i + 1, i + 1, e.payload_digest, i + 1, i + 1, e.hash);
            continue;
        }
        assert_eq!(payload, v.canonical_payload, "vector {}", i + 1);
        assert_eq!(e.payload.as_str(), v.canonical_payload);
        assert_eq!(
            e.payload_digest.to_hex(),
            v.payload_digest,
            "vector {}",
            i + 1
        );
        assert_eq!(envelope, v.canonical_envelope, "vector {}", i + 1);
        assert_eq!(e.hash.to_hex(), v.hash, "vector {}", i + 1);
    }
}

#[test]
fn vectors_appear_in_format_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md"))
        .expect("docs/FORMAT.md");
    for (i, v) in vectors().iter().enumerate() {
        for (what, text) in [
            ("canonical payload", v.canonical_payload),
            ("payload_digest", v.payload_digest),
            ("canonical envelope", v.canonical_envelope),
            ("hash", v.hash),
        ] {
            assert!(
                doc.contains(text),
                "docs/FORMAT.md lacks vector {}'s {what}: {text}",
                i + 1
            );
        }
    }
}
