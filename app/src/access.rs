//! Reads of sensitive records, recorded as events (DOMAIN-DETAIL.md §6: "log
//! every read of a sensitive record as its own event"), and the confidential
//! annex that holds a whistleblower's identity apart from the candidate.
//!
//! * `access.read` / `access.exported` in `access/<election>/<candidate>`:
//!   who read or exported which candidate's trail, as of which position. Kept
//!   out of the `election/…` streams so that a read never makes a recorder's
//!   command decide again (the election's guard does not see it), and so that
//!   the candidate's own trail never shows who investigated it.
//! * `petition.source_recorded` in `confidential/<election>/<petition>`: the
//!   identity and contact of whoever filed a petition (举报人). The petition's
//!   own events (on the candidate's stream) never carry it; only the roles
//!   that handle petitions may read this stream, and each read is recorded.
//!
//! An access event is appended *before* the data is handed out: a read that
//! could not be recorded is not served.

use jishi_ledger::{AppendError, AppendRequest, EventStore, ExpectedVersion, StoreError};
use serde::{Deserialize, Serialize};

use crate::sealed::{Binding, Keyring, SealError, Sealed, Secret};
use crate::{append_one, plain_event};

pub const ACCESS_PREFIX: &str = "access";
pub const CONFIDENTIAL_PREFIX: &str = "confidential";
pub const ACCESS_READ: &str = "access.read";
pub const ACCESS_EXPORTED: &str = "access.exported";
pub const PETITION_SOURCE: &str = "petition.source_recorded";

/// What was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    Trail,
    Accountability,
    CaseExport,
    PetitionSource,
    /// A compliance report that showed this candidate's restricted content
    /// to an entitled reader (D52).
    Compliance,
    /// The candidate's 全程纪实表 downloaded as a spreadsheet (D110): the
    /// trail left the service as a file, so it is an export, not a read.
    SheetExport,
}

impl View {
    /// Chinese and English, for pages.
    pub fn label(self) -> &'static str {
        match self {
            View::Trail => "全程纪实 trail",
            View::Accountability => "责任链 responsibility chain",
            View::CaseExport => "导出案卷 case export",
            View::PetitionSource => "举报人信息 petitioner's identity",
            View::Compliance => "合规检查 compliance report",
            View::SheetExport => "导出纪实表 trail exported (XLSX)",
        }
    }
}

/// The payload of an access event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRecord {
    pub election_id: String,
    pub candidate_id: String,
    pub view: View,
    /// The as-of position asked for; `None` for "now".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<u64>,
    /// The occurred-time cut asked for instead (domain decision 35): the
    /// time, as read, by which the events shown had happened. Absent on
    /// every read recorded before it existed, so their bytes are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_occurred: Option<String>,
    /// The petition, for a read of its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub petition_id: Option<String>,
}

/// The payload of `petition.source_recorded`. Since D59 the identity and
/// contact are [`sealed`](crate::sealed) and only the binding (election,
/// candidate, petition) is in the clear; `identity`/`contact` in the clear
/// are what events recorded before that hold, read as "not sealed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PetitionSource {
    pub election_id: String,
    pub candidate_id: String,
    pub petition_id: String,
    /// Name or description of the petitioner, in the clear (before D59 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The identity and contact, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
}

impl PetitionSource {
    fn binding(&self) -> Binding<'_> {
        Binding {
            election_id: &self.election_id,
            candidate_id: &self.candidate_id,
            petition_id: &self.petition_id,
        }
    }
}

/// One recorded source as a reader gets it: opened when the key allows,
/// with the reason when it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRead {
    pub position: u64,
    pub election_id: String,
    pub candidate_id: String,
    pub petition_id: String,
    /// Whether the stored record is sealed (false: recorded in the clear
    /// before D59, readable by a DBA).
    pub sealed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Why the identity cannot be shown (key destroyed, moved record, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// `access/<election>/<candidate>`.
pub fn access_stream(election_id: &str, candidate_id: &str) -> String {
    format!("{ACCESS_PREFIX}/{election_id}/{candidate_id}")
}

/// `confidential/<election>/<petition>`.
pub fn source_stream(election_id: &str, petition_id: &str) -> String {
    format!("{CONFIDENTIAL_PREFIX}/{election_id}/{petition_id}")
}

fn access_request(
    actor: &jishi_ledger::Actor,
    record: &AccessRecord,
) -> Result<AppendRequest, AppendError> {
    let event_type = match record.view {
        View::CaseExport | View::SheetExport => ACCESS_EXPORTED,
        _ => ACCESS_READ,
    };
    Ok(AppendRequest {
        stream: access_stream(&record.election_id, &record.candidate_id),
        expected: ExpectedVersion::Any,
        events: vec![plain_event(event_type, actor, record)?],
    })
}

/// Records that `actor` read (or exported) a candidate's records; returns the
/// position of the access event.
pub async fn record_access(
    store: &dyn EventStore,
    actor: &jishi_ledger::Actor,
    record: &AccessRecord,
) -> Result<u64, AppendError> {
    Ok(record_accesses(store, actor, std::slice::from_ref(record))
        .await?
        .first()
        .copied()
        .unwrap_or_default())
}

/// Records several reads at once (a report or a workbook that shows many
/// candidates): one transaction, all or none, rather than one append per
/// candidate. Their positions, in order.
pub async fn record_accesses(
    store: &dyn EventStore,
    actor: &jishi_ledger::Actor,
    records: &[AccessRecord],
) -> Result<Vec<u64>, AppendError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let requests = records
        .iter()
        .map(|r| access_request(actor, r))
        .collect::<Result<Vec<_>, _>>()?;
    let appended = store.append_batch(requests).await.map_err(|e| e.error)?;
    Ok(appended
        .iter()
        .map(|a| a.events.first().map_or(0, |e| e.position))
        .collect())
}

/// One recorded read, as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEntry {
    pub position: u64,
    pub recorded_at: String,
    pub actor: jishi_ledger::Actor,
    pub event_type: String,
    pub record: AccessRecord,
}

/// Every recorded read of a candidate's records, oldest first.
pub async fn accesses(
    store: &dyn EventStore,
    election_id: &str,
    candidate_id: &str,
) -> Result<Vec<AccessEntry>, StoreError> {
    let rows = store
        .read_stream(
            &access_stream(election_id, candidate_id),
            1,
            usize::MAX >> 1,
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|e| {
            let record = serde_json::from_value(e.payload.to_value().ok()?).ok()?;
            Some(AccessEntry {
                position: e.position,
                recorded_at: e.recorded_at,
                actor: e.actor,
                event_type: e.event_type,
                record,
            })
        })
        .collect())
}

/// Records a petitioner's identity in the confidential annex, sealed with
/// the election's key from `keyring`: it is never stored in the clear.
pub async fn record_source(
    store: &dyn EventStore,
    keyring: &Keyring,
    actor: &jishi_ledger::Actor,
    binding: &Binding<'_>,
    secret: &Secret,
) -> Result<u64, SourceError> {
    let sealed = keyring.seal(binding, secret)?;
    let source = PetitionSource {
        election_id: binding.election_id.to_string(),
        candidate_id: binding.candidate_id.to_string(),
        petition_id: binding.petition_id.to_string(),
        identity: None,
        contact: None,
        sealed: Some(sealed),
    };
    Ok(append_one(
        store,
        source_stream(&source.election_id, &source.petition_id),
        ExpectedVersion::Any,
        plain_event(PETITION_SOURCE, actor, &source)?,
    )
    .await?)
}

/// Why a source could not be recorded. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// The recorded sources of a petition (a later one adds to, never replaces,
/// an earlier one), with the position each was recorded at.
pub async fn sources(
    store: &dyn EventStore,
    election_id: &str,
    petition_id: &str,
) -> Result<Vec<(u64, PetitionSource)>, StoreError> {
    let rows = store
        .read_stream(&source_stream(election_id, petition_id), 1, usize::MAX >> 1)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|e| e.event_type == PETITION_SOURCE)
        .filter_map(|e| {
            Some((
                e.position,
                serde_json::from_value(e.payload.to_value().ok()?).ok()?,
            ))
        })
        .collect())
}

/// The sources of a petition, opened with `keyring` where they are sealed.
/// A source that does not open is listed with the reason, not dropped, so
/// that a reader sees that it exists (and a shredded one says so).
pub async fn read_sources(
    store: &dyn EventStore,
    keyring: Option<&Keyring>,
    election_id: &str,
    petition_id: &str,
) -> Result<Vec<SourceRead>, StoreError> {
    let stored = sources(store, election_id, petition_id).await?;
    Ok(stored
        .into_iter()
        .map(|(position, s)| {
            let opened = match (&s.sealed, keyring) {
                (None, _) => Ok(Secret {
                    identity: s.identity.clone().unwrap_or_default(),
                    contact: s.contact.clone(),
                }),
                (Some(_), None) => Err(
                    "this server has no sealing keyring (start it with --sealing-keys DIR)"
                        .to_string(),
                ),
                (Some(sealed), Some(ring)) => ring
                    .open_sealed(&s.binding(), sealed)
                    .map_err(|e| e.to_string()),
            };
            let (identity, contact, unreadable) = match opened {
                Ok(secret) => (Some(secret.identity), secret.contact, None),
                Err(reason) => (None, None, Some(reason)),
            };
            SourceRead {
                position,
                sealed: s.sealed.is_some(),
                election_id: s.election_id,
                candidate_id: s.candidate_id,
                petition_id: s.petition_id,
                identity,
                contact,
                unreadable,
            }
        })
        .collect())
}
