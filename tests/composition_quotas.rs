//! Issue 16, item 1 (domain decision 36): a congress's composition held to
//! the quotas its procedure states. The demo's party-representative unit is
//! recorded through the domain API under a procedure with `[composition]`,
//! and `jishi composition` and `GET /api/composition` name each quota not
//! met, with its share, its count and its seed passage; out of scope
//! answers as absent, and nothing is judged before the vote.

mod common;

use std::sync::Arc;

use jishi_ledger::EventStore;
use jishi_projections::events::{EventBody, RepresentativeCategory};
use jishi_projections::Procedure;
use serde_json::Value;

const ELECTION: &str = "qingshan-dbxj-2021";

/// The built-in party-representative procedure with quotas: at least half
/// front-line, at most a quarter leading cadres, and front-line above the
/// previous term's 30%.
fn with_quotas() -> Procedure {
    let base = Procedure::builtin("party_representative").expect("built in");
    let text = format!(
        "{}\n[composition]\nmin_share = {{ frontline = 0.5 }}\nmax_share = {{ leading_cadre = 0.25 }}\nprevious_term = {{ frontline = 0.3 }}\n",
        base.canonical_toml()
    );
    Procedure::from_toml_str(&text, "test.toml").expect("the procedure with quotas loads")
}

/// Records the demo's party-representative unit under `procedure`, its
/// nominees given categories (c-01 and c-04 front-line, c-02 and c-03
/// leading cadres), up to (not including) the first command of
/// `stop_before`, if given.
async fn record_unit(db: &std::path::Path, procedure: &Procedure, stop_before: Option<&str>) {
    let units = jishi_projections::demo_kinds::other_kinds(7).expect("demo");
    let unit = units
        .into_iter()
        .find(|u| u.election_id == ELECTION)
        .expect("the demo's party-representative unit");
    let store: Arc<dyn EventStore> = Arc::new(jishi_ledger::SqliteStore::open(db).expect("open"));
    for mut planned in unit.commands {
        if stop_before == Some(planned.command.body.event_type()) {
            break;
        }
        if let EventBody::Nominated(n) = &mut planned.command.body {
            let id = planned.command.candidate_id.as_deref().unwrap_or_default();
            n.representative_category = Some(match id {
                "c-01" | "c-04" => RepresentativeCategory::Frontline,
                _ => RepresentativeCategory::LeadingCadre,
            });
        }
        let given =
            matches!(planned.command.body, EventBody::ElectionOpened(_)).then_some(procedure);
        jishi_app::record(
            &store,
            given,
            &jishi_app::ledger_actor(&planned.actor),
            &planned.command,
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", planned.command.body.event_type()));
    }
}

fn composition_json(db: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["composition"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = common::jishi(db, &all, None);
    assert!(out.status.success(), "{}", common::text(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_not_met_are_findings_with_their_share_count_and_seed() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("q.db");
    record_unit(&db, &with_quotas(), None).await;
    let d = db.clone();
    let v = tokio::task::spawn_blocking(move || composition_json(&d, &[ELECTION]))
        .await
        .expect("cli");
    assert_eq!(v["elected"], 3, "{v}");
    let findings = v["quotas"]["findings"].as_array().expect("findings");
    let by: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f["quota"].as_str().unwrap_or_default(),
                f["measure"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // One front-line of three elected: below a half, but above the previous
    // term's 30%; two leading cadres of three: above a quarter.
    assert_eq!(
        by,
        [("min_share", "frontline"), ("max_share", "leading_cadre")],
        "{v}"
    );
    assert_eq!(findings[0]["count"], 1);
    assert_eq!(findings[0]["elected"], 3);
    assert!(
        findings[1]["source"]
            .as_str()
            .is_some_and(|s| s.contains("seeds/002") && s.contains("不得挤占")),
        "{v}"
    );
    assert_eq!(v["quotas"]["pending"].as_array().map(Vec::len), Some(0));

    // The table names the shortfall and the seed.
    let out = common::jishi(&db, &["composition", ELECTION], None);
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("低于规定比例") && text.contains("33.3% (1/3)"),
        "{text}"
    );

    // Served: in scope the same answer; out of scope as absent, by name
    // and by kind.
    let tokens = common::browser::add_users(
        &db,
        &[
            ("city", "inspector", "天元区"),
            ("far", "inspector", "河东区"),
        ],
    )
    .await;
    let base = common::server::serve_ledger(&db).await;
    let http = reqwest::Client::new();
    let get =
        |path: String, token: &str| http.get(format!("{base}{path}")).bearer_auth(token).send();
    let r = get(format!("/api/composition?elections={ELECTION}"), &tokens[0])
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let served: Value = r.json().await.expect("json");
    assert_eq!(
        served["quotas"], v["quotas"],
        "the server and the CLI agree"
    );
    assert_eq!(served["composition"]["elected"], 3);
    let r = get(format!("/api/composition?elections={ELECTION}"), &tokens[1])
        .await
        .expect("get");
    assert_eq!(r.status(), 404, "another district's inspector");
    let absent = get(
        "/api/composition?elections=no-such-election".into(),
        &tokens[1],
    )
    .await
    .expect("get");
    assert_eq!(absent.status(), 404);
    let r = get(
        "/api/composition?kind=party_representative".into(),
        &tokens[1],
    )
    .await
    .expect("get");
    let theirs: Value = r.json().await.expect("json");
    assert_eq!(
        theirs["composition"]["elected"], 0,
        "nothing of 天元区 is counted: {theirs}"
    );
    // Given means given: a blank list, a blank kind, or both ways at once.
    for (q, field) in [
        ("elections=", "elections"),
        ("elections=,,", "elections"),
        ("kind=", "kind"),
        (
            "elections=qingshan-dbxj-2021&kind=party_representative",
            "kind",
        ),
    ] {
        let r = get(format!("/api/composition?{q}"), &tokens[0])
            .await
            .expect("get");
        assert_eq!(r.status(), 400, "{q}");
        let e: Value = r.json().await.expect("json");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
    let out = common::jishi(&db, &["composition", "--kind", "no_such_kind"], None);
    assert!(!out.status.success(), "{}", common::text(&out));
    assert!(common::text(&out).contains("not a procedure kind"));
    let r = get("/api/composition?kind=no_such_kind".into(), &tokens[0])
        .await
        .expect("get");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["field"], "kind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_judged_before_the_vote_and_the_unit_is_named_pending() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("p.db");
    record_unit(&db, &with_quotas(), Some("vote.held")).await;
    let d = db.clone();
    let v = tokio::task::spawn_blocking(move || composition_json(&d, &[ELECTION]))
        .await
        .expect("cli");
    assert_eq!(v["elected"], 0);
    assert_eq!(v["quotas"]["findings"].as_array().map(Vec::len), Some(0));
    assert_eq!(v["quotas"]["pending"][0], ELECTION, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_procedure_without_quotas_judges_none_and_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("n.db");
    let builtin = Procedure::builtin("party_representative").expect("built in");
    assert!(
        builtin.composition.is_none(),
        "no quota is shipped (decision 36)"
    );
    record_unit(&db, &builtin, None).await;
    let d = db.clone();
    let v = tokio::task::spawn_blocking(move || composition_json(&d, &[ELECTION]))
        .await
        .expect("cli");
    assert_eq!(v["elected"], 3);
    assert!(v["quotas"].is_null(), "{v}");
    let out = common::jishi(&db, &["composition", ELECTION], None);
    assert!(
        common::text(&out).contains("程序未规定"),
        "{}",
        common::text(&out)
    );
}

#[test]
fn bad_quotas_are_refused_when_the_procedure_loads_naming_the_key() {
    let base = Procedure::builtin("party_representative")
        .expect("built in")
        .canonical_toml();
    for (table, why) in [
        (
            "min_share = { frontline = 1.5 }",
            "`min_share.frontline` must be a share",
        ),
        (
            "min_share = { front_line = 0.5 }",
            "`min_share.front_line`: unknown measure",
        ),
        (
            "min_share = { women = 0.4 }\nmax_share = { women = 0.3 }",
            "`min_share.women` (0.4) is above `max_share.women` (0.3)",
        ),
        ("quota = { women = 0.3 }", "unknown field `quota`"),
    ] {
        let text = format!("{base}\n[composition]\n{table}\n");
        let err = Procedure::from_toml_str(&text, "test.toml")
            .err()
            .unwrap_or_else(|| panic!("{table}: accepted"))
            .to_string();
        assert!(err.contains(why), "{table}: {err}");
    }
    // A good table loads, and its canonical text loads back equal.
    let text = format!("{base}\n[composition]\nprevious_term = {{ frontline = 0.56 }}\n");
    let p = Procedure::from_toml_str(&text, "test.toml").expect("loads");
    let again =
        Procedure::from_toml_str(&p.canonical_toml(), "canonical").expect("canonical loads");
    assert_eq!(again.composition, p.composition);
    assert_eq!(
        again
            .composition
            .as_ref()
            .and_then(|c| c.previous_term.get("frontline").copied()),
        Some(0.56)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_under_different_quotas_are_refused_not_judged_by_one() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("m.db");
    record_unit(&db, &with_quotas(), None).await;
    // A second unit: the same commands under another id and other quotas.
    let base = Procedure::builtin("party_representative").expect("built in");
    let other = Procedure::from_toml_str(
        &format!(
            "{}\n[composition]\nmin_share = {{ women = 0.3 }}\n",
            base.canonical_toml()
        ),
        "other.toml",
    )
    .expect("loads");
    let units = jishi_projections::demo_kinds::other_kinds(7).expect("demo");
    let unit = units
        .into_iter()
        .find(|u| u.election_id == ELECTION)
        .expect("unit");
    let store: Arc<dyn EventStore> = Arc::new(jishi_ledger::SqliteStore::open(&db).expect("open"));
    for mut planned in unit.commands {
        planned.command.election_id = "qingshan-dbxj2-2021".into();
        let given = matches!(planned.command.body, EventBody::ElectionOpened(_)).then_some(&other);
        jishi_app::record(
            &store,
            given,
            &jishi_app::ledger_actor(&planned.actor),
            &planned.command,
        )
        .await
        .expect("recorded");
    }
    let out = common::jishi(&db, &["composition", ELECTION, "qingshan-dbxj2-2021"], None);
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("different [composition] quotas"), "{text}");
    // Each alone is judged under its own.
    let d = db.clone();
    let v = tokio::task::spawn_blocking(move || composition_json(&d, &["qingshan-dbxj2-2021"]))
        .await
        .expect("cli");
    assert_eq!(v["quotas"]["rules"]["min_share"]["women"], 0.3, "{v}");
}
