//! What spans the ledgers of one service (D112, D114): the ledgers a user
//! can see something in, and one search across all of them, each answer
//! labelled with its ledger.
//!
//! Scope is the one rule of every ledger: an election is seen only if the
//! user's organisation covers the election's (investigators everywhere),
//! whichever ledger holds it. An election out of scope is simply not among
//! the hits, so the search answers exactly as if it were absent (D53), and
//! a name of a ledger that holds nothing in scope does not appear in the
//! list. Like the lists and the search of one ledger (D104), these answers
//! show names, steps, statuses and finding kinds, never restricted content,
//! and record no read.

use std::sync::Arc;

use axum::extract::{FromRef, Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jishi_app::users::{AccessRole, User};
use jishi_projections::person::PersonRef;
use jishi_projections::views::{self, ElectionProjection, FindingKind};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{base, Ledgers};
use crate::auth::{ApiUser, PageUser};
use crate::error::ApiError;
use crate::forms::enc;
use crate::pages::{error_page, layout_with_badge};
use crate::search::{self, Filter, Hit};
use crate::state::{election_org, AppState};
use crate::{labels, policy, queries};

/// The state of the routes across ledgers: every ledger.
#[derive(Clone)]
pub struct Cross(pub Arc<Ledgers>);

/// Users are the home ledger's, so the extractors authenticate against it.
impl FromRef<Cross> for Arc<AppState> {
    fn from_ref(c: &Cross) -> Arc<AppState> {
        c.0.home().clone()
    }
}

pub fn routes() -> Router<Cross> {
    Router::new()
        .route("/ledgers", get(ledgers_page))
        .route("/api/ledgers", get(ledgers_api))
        .route("/api/search/all", get(search_api))
        .route("/search/all", get(search_page))
        // Any ledger not nested by name falls here: static segments win
        // over a parameter, so a ledger that exists never does.
        .route("/ledgers/{name}", get(unknown_ledger).post(unknown_ledger))
        .route(
            "/ledgers/{name}/{*rest}",
            get(unknown_ledger).post(unknown_ledger),
        )
}

/// The answer for a ledger this service does not hold: a 404 that names
/// it, as JSON under `/api/`, else as a page.
async fn unknown_ledger(
    Path(params): Path<Vec<(String, String)>>,
    uri: axum::http::Uri,
) -> Response {
    let name = params
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let e = ApiError::NotFound(format!(
        "ledger {:?}: no such ledger in this service (GET /api/ledgers lists the ones you can read)",
        name.chars().take(64).collect::<String>()
    ));
    // `/ledgers/{name}/api/…`: the segment after the name.
    let rest = uri.path().splitn(4, '/').nth(3).unwrap_or_default();
    if rest.split('/').next() == Some("api") {
        e.into_response()
    } else {
        error_page(&e)
    }
}

/// One ledger as the list shows it.
#[derive(Debug, Serialize)]
pub struct LedgerSummary {
    pub name: String,
    /// Where its routes begin (`/` for the home ledger).
    pub base: String,
    /// The log's name in its checkpoints; empty without a signing key.
    pub origin: String,
    /// Events in its tree.
    pub size: u64,
    /// Its newest signed checkpoint: size and root hash.
    pub checkpoint: Option<serde_json::Value>,
    /// Elections in it the user reads.
    pub elections: usize,
}

/// The ledgers `user` can see something in: those holding an election in
/// the user's scope, and for investigators, who read everywhere, all.
pub async fn visible(ledgers: &Ledgers, user: &User) -> Result<Vec<LedgerSummary>, ApiError> {
    let mut out = Vec::new();
    for (name, state) in ledgers.all() {
        let elections = state
            .with_views(|v| {
                v.elections
                    .values()
                    .filter(|e| policy::may_read_election(user, &election_org(e)).is_ok())
                    .count()
            })
            .await?;
        if elections == 0 && user.role != AccessRole::Investigator {
            continue;
        }
        let size = state.store.tree_size().await?;
        let checkpoint = state
            .store
            .latest_checkpoint()
            .await?
            .map(|c| json!({ "origin": c.origin, "size": c.size, "root": c.root.to_string() }));
        out.push(LedgerSummary {
            name: name.to_string(),
            base: if base(name).is_empty() {
                "/".into()
            } else {
                base(name)
            },
            origin: state.origin.clone(),
            size,
            checkpoint,
            elections,
        });
    }
    Ok(out)
}

async fn ledgers_api(
    State(Cross(ledgers)): State<Cross>,
    ApiUser(user): ApiUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({ "ledgers": visible(&ledgers, &user).await? })))
}

async fn ledgers_page(State(Cross(ledgers)): State<Cross>, PageUser(user): PageUser) -> Response {
    let list = match visible(&ledgers, &user).await {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let body = html! {
        h1 { "台账 Ledgers" }
        p.meta { "本服务中您可查阅的台账 the ledgers of this service you can read; each keeps its own chain, keys and checkpoints" }
        @if list.is_empty() { p id="no-ledgers" { "您的范围内尚无选举 no election in your scope yet" } }
        @else {
            table id="ledgers" {
                tr { th { "台账 Ledger" } th { "日志名 Origin" } th { "事件 Events" } th { "检查点 Checkpoint" } th { "选举 Elections" } }
                @for l in &list {
                    tr {
                        td { a href=(format!("{}/elections", base(&l.name))) { (l.name) } }
                        td { (l.origin) }
                        td { (l.size) }
                        td { @match &l.checkpoint { Some(c) => { "#" (c["size"]) " " code { (c["root"].as_str().unwrap_or_default()) } }, None => { "尚无 none yet" } } }
                        td { (l.elections) }
                    }
                }
            }
        }
        p { a href="/search/all" { "跨台账查找 search all ledgers" } }
    };
    page(&ledgers, &user, "台账 ledgers", body).await
}

async fn page(ledgers: &Ledgers, user: &User, title: &str, body: Markup) -> Response {
    match queries::badge(ledgers.home()).await {
        Ok(b) => Html(layout_with_badge(title, user, &b, body).into_string()).into_response(),
        Err(e) => error_page(&e),
    }
}

/// The query of the search across ledgers; at least one field.
#[derive(Debug, Default, Deserialize)]
pub struct AllQuery {
    /// Words matched against elections (id, unit, organisation, candidates'
    /// names) and candidates (name, id, unit, election).
    #[serde(default)]
    pub q: String,
    /// A person's keyed reference (`p1:` and 64 hex digits): every
    /// candidacy of that person, in every ledger. An id number is not taken
    /// here: a URL is kept in logs and histories, and the number must never
    /// be written down (domain decision 34).
    #[serde(default)]
    pub person_ref: String,
    /// A finding kind (`late_report`, `override`, …) or `any`.
    #[serde(default)]
    pub finding: String,
}

/// The search read back and checked: each field's error names it.
struct Wanted {
    words: String,
    person: Option<PersonRef>,
    finding: Option<Option<FindingKind>>,
}

impl Wanted {
    fn parse(q: &AllQuery) -> Result<Wanted, ApiError> {
        let words = q.q.trim().to_string();
        let person = match q.person_ref.trim() {
            "" => None,
            r => Some(PersonRef::parse(r).map_err(|e| ApiError::bad("person_ref", e.to_string()))?),
        };
        let finding = match q.finding.trim() {
            "" => None,
            "any" => Some(None),
            k => Some(Some(finding_kind(k).ok_or_else(|| {
                ApiError::bad(
                    "finding",
                    format!(
                        "{:?} is not a finding kind: give any or one of {}",
                        k.chars().take(40).collect::<String>(),
                        FindingKind::ALL
                            .iter()
                            .map(|k| code(*k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?)),
        };
        if words.is_empty() && person.is_none() && finding.is_none() {
            return Err(ApiError::bad(
                "q",
                "give q (words), person_ref (p1:…) or finding (a kind, or any)",
            ));
        }
        Ok(Wanted {
            words,
            person,
            finding,
        })
    }
}

/// A kind's name in the API (its serde name, `late_report`).
fn code(k: FindingKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn finding_kind(text: &str) -> Option<FindingKind> {
    FindingKind::ALL.iter().copied().find(|k| code(*k) == text)
}

/// An election found, with its ledger.
#[derive(Debug, Serialize)]
pub struct ElectionHit {
    pub ledger: String,
    pub href: String,
    #[serde(flatten)]
    pub election: queries::ElectionSummary,
}

/// A candidate found, with its ledger.
#[derive(Debug, Serialize)]
pub struct CandidateHit {
    pub ledger: String,
    pub href: String,
    #[serde(flatten)]
    pub candidate: Hit,
}

/// A finding found: its kind and rule and where the evidence is, never the
/// detail, which may quote restricted content (D104).
#[derive(Debug, Serialize)]
pub struct FindingHit {
    pub ledger: String,
    pub href: String,
    pub election_id: String,
    pub candidate_id: Option<String>,
    pub kind: String,
    pub label: &'static str,
    pub rule: Option<String>,
    pub evidence: Vec<u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Found {
    pub elections: Vec<ElectionHit>,
    pub candidates: Vec<CandidateHit>,
    pub findings: Vec<FindingHit>,
}

/// The findings of one election that `kind` picks (`None`: every kind).
fn findings_of(
    e_id: &str,
    e: &ElectionProjection,
    kind: Option<FindingKind>,
) -> Vec<views::Finding> {
    let Ok(p) = jishi_app::views::procedure_of(e_id, &e.entries, None) else {
        return Vec::new();
    };
    let (report, _) = jishi_projections::replay::compliance_with(
        &e.entries,
        &e.unreadable,
        &p,
        &views::StructureRules::default(),
    );
    report
        .findings
        .into_iter()
        .filter(|f| kind.is_none_or(|k| f.kind == k))
        .collect()
}

/// The person reference a candidate of `e` was nominated with.
fn person_of<'a>(e: &'a ElectionProjection, candidate: Option<&str>) -> Option<&'a PersonRef> {
    e.state
        .candidates
        .get(candidate?)
        .and_then(|s| s.nomination.as_ref())
        .and_then(|n| n.person_ref.as_ref())
}

/// The search, on every ledger, in the user's scope in each.
async fn search_all(ledgers: &Ledgers, user: &User, w: &Wanted) -> Result<Found, ApiError> {
    let mut found = Found::default();
    for (name, state) in ledgers.all() {
        let prefix = base(name);
        if !w.words.is_empty() && w.person.is_none() && w.finding.is_none() {
            let list = search::in_scope(state, user).await?;
            let f = Filter {
                q: w.words.clone(),
                ..Filter::default()
            };
            found
                .elections
                .extend(
                    search::filter(list, &f)
                        .into_iter()
                        .map(|(e, _)| ElectionHit {
                            ledger: name.to_string(),
                            href: format!("{prefix}/elections/{}", enc(&e.election_id)),
                            election: e,
                        }),
                );
        }
        let (candidates, findings) = state
            .with_views(|v| {
                let mut candidates = Vec::new();
                let mut findings = Vec::new();
                for (id, e) in &v.elections {
                    // The one rule, in every ledger: out of scope is absent.
                    if policy::may_read_election(user, &election_org(e)).is_err() {
                        continue;
                    }
                    if w.finding.is_none() {
                        candidates.extend(search::hits_where(id, e, |c, unit| {
                            let person = w.person.is_none()
                                || person_of(e, Some(&c.candidate_id)) == w.person.as_ref();
                            person
                                && search::matches(&w.words, &[&c.name, &c.candidate_id, unit, id])
                        }));
                    } else if let Some(kind) = w.finding {
                        let unit = e.state.opened.as_ref().map(|o| o.unit_name.as_str());
                        let hay = [id.as_str(), unit.unwrap_or_default(), &election_org(e)];
                        if search::matches(&w.words, &hay) {
                            findings.extend(
                                findings_of(id, e, kind)
                                    .into_iter()
                                    .filter(|f| {
                                        w.person.is_none()
                                            || person_of(e, f.candidate_id.as_deref())
                                                == w.person.as_ref()
                                    })
                                    .map(|f| (id.clone(), f)),
                            );
                        }
                    }
                }
                (candidates, findings)
            })
            .await?;
        found
            .candidates
            .extend(candidates.into_iter().map(|c| CandidateHit {
                ledger: name.to_string(),
                href: format!(
                    "{prefix}/elections/{}/candidates/{}",
                    enc(&c.election_id),
                    enc(&c.candidate_id)
                ),
                candidate: c,
            }));
        found
            .findings
            .extend(findings.into_iter().map(|(e_id, f)| FindingHit {
                ledger: name.to_string(),
                href: format!("{prefix}/elections/{}", enc(&e_id)),
                election_id: e_id,
                candidate_id: f.candidate_id,
                kind: code(f.kind),
                label: f.kind.label(),
                rule: f.rule.map(|r| r.to_string()),
                evidence: f.evidence,
            }));
    }
    Ok(found)
}

async fn search_api(
    State(Cross(ledgers)): State<Cross>,
    ApiUser(user): ApiUser,
    Query(q): Query<AllQuery>,
) -> Result<Json<Found>, ApiError> {
    let w = Wanted::parse(&q)?;
    Ok(Json(search_all(&ledgers, &user, &w).await?))
}

async fn search_page(
    State(Cross(ledgers)): State<Cross>,
    PageUser(user): PageUser,
    Query(q): Query<AllQuery>,
) -> Response {
    let asked =
        !(q.q.trim().is_empty() && q.person_ref.trim().is_empty() && q.finding.trim().is_empty());
    let (found, error) = if asked {
        match Wanted::parse(&q) {
            Ok(w) => match search_all(&ledgers, &user, &w).await {
                Ok(f) => (Some(f), None),
                Err(e) => return error_page(&e),
            },
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    let kinds: Vec<(String, &'static str)> =
        std::iter::once((String::new(), "不按发现 no finding"))
            .chain(std::iter::once(("any".to_string(), "任何发现 any finding")))
            .chain(FindingKind::ALL.iter().map(|k| (code(*k), k.label())))
            .collect();
    let body = html! {
        h1 { "跨台账查找 Search all ledgers" }
        form method="get" action="/search/all" id="search-all-form" {
            label for="all-q" { "姓名、单位或编号 words " }
            input id="all-q" name="q" value=(q.q.trim());
            " " label for="all-person" { "人员关联码 person_ref " }
            input id="all-person" name="person_ref" value=(q.person_ref.trim()) placeholder="p1:…";
            " " select name="finding" id="all-finding" {
                @for (v, l) in &kinds { option value=(v) selected[*v == q.finding.trim()] { (*l) } }
            }
            " " button type="submit" id="search-all-submit" { "查找 search" }
        }
        @if let Some(e) = &error { p.error id="search-all-error" { (e) } }
        @if let Some(f) = &found {
            p.meta id="search-all-count" {
                "在您的范围内 in your scope: " (f.elections.len()) " 个选举 elections, "
                (f.candidates.len()) " 名人选 candidates, " (f.findings.len()) " 项发现 findings"
            }
            @if !f.elections.is_empty() {
                table id="all-elections" {
                    tr { th { "台账 Ledger" } th { "选举 Election" } th { "单位 Unit" } th { "组织 Org" } th { "合规 Compliance" } }
                    @for h in &f.elections {
                        tr {
                            td { (h.ledger) }
                            td { a href=(h.href) { (h.election.election_id) } }
                            td { (h.election.unit_name) } td { (h.election.unit_org) }
                            td { (search::compliance_cell(&h.election)) }
                        }
                    }
                }
            }
            @if !f.candidates.is_empty() {
                table id="all-candidates" {
                    tr { th { "台账 Ledger" } th { "姓名 Name" } th { "选举 Election" } th { "单位 Unit" } th { "状态 Status" } th { "最近环节 Last step" } th { "发现 Findings" } }
                    @for h in &f.candidates {
                        tr {
                            td { (h.ledger) }
                            td { a href=(h.href) { (h.candidate.name) } }
                            td { (h.candidate.election_id) }
                            td { (h.candidate.unit_name) }
                            td { (h.candidate.status) }
                            td { (h.candidate.last_step.as_deref().map(labels::event_type).unwrap_or_default()) }
                            td { (h.candidate.findings) }
                        }
                    }
                }
            }
            @if !f.findings.is_empty() {
                table id="all-findings" {
                    tr { th { "台账 Ledger" } th { "选举 Election" } th { "人选 Candidate" } th { "发现 Finding" } th { "证据位置 Evidence" } }
                    @for h in &f.findings {
                        tr {
                            td { (h.ledger) }
                            td { a href=(h.href) { (h.election_id) } }
                            td { (h.candidate_id.clone().unwrap_or_default()) }
                            td { (h.label) @if let Some(r) = &h.rule { " · " (r) } }
                            td { (h.evidence.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(" ")) }
                        }
                    }
                }
            }
        }
    };
    page(&ledgers, &user, "跨台账查找 search all ledgers", body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_kinds_are_known_by_their_api_names() {
        assert_eq!(finding_kind("late_report"), Some(FindingKind::LateReport));
        assert_eq!(finding_kind("Late Report"), None);
        let mut codes: Vec<String> = FindingKind::ALL.iter().map(|k| code(*k)).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(
            codes.len(),
            FindingKind::ALL.len(),
            "two kinds share a name"
        );
    }

    #[test]
    fn a_search_names_its_bad_field() {
        let bad = |q: AllQuery| match Wanted::parse(&q) {
            Err(ApiError::BadRequest { field, .. }) => field,
            _ => panic!("accepted"),
        };
        assert_eq!(bad(AllQuery::default()), "q");
        assert_eq!(
            bad(AllQuery {
                person_ref: "110101198501010017".into(),
                ..AllQuery::default()
            }),
            "person_ref"
        );
        assert_eq!(
            bad(AllQuery {
                finding: "bribery".into(),
                ..AllQuery::default()
            }),
            "finding"
        );
    }
}
