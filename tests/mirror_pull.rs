//! Issue 19, item 2, pull mode: the city fetches a county's log from the
//! tiles `jishi serve` publishes, with an investigator's token for the
//! envelope bundles, and feeds its own `jishi mirror` with it; the mirror's
//! tiles then verify with azul's `tlog_tiles`. A missing or a recorder's
//! token gets no envelopes, and nothing is cosigned.

mod common;
mod mirror_support;

use std::sync::Arc;

use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{EventStore, ProofStore, SqliteStore};
use jishi_server::AppState;
use mirror_support::fixture::*;
use mirror_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_city_pulls_a_county_log_from_its_tiles_into_its_mirror() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let store: Arc<dyn ProofStore> = Arc::new(SqliteStore::open(&l.db).expect("open"));
    let events: Arc<dyn EventStore> = store.clone();
    let user = |id: &str, role| NewUser {
        id: id.into(),
        name: id.into(),
        role,
        org: "市纪委".into(),
        acts_as: Some("investigator".into()),
    };
    let (_, token) = add_user(
        events.as_ref(),
        &common::server::operator(),
        user("inv", AccessRole::Investigator),
    )
    .await
    .expect("user");
    let (_, recorder) = add_user(
        events.as_ref(),
        &common::server::operator(),
        user("rec", AccessRole::Recorder),
    )
    .await
    .expect("user");
    let state = Arc::new(AppState::new(store.clone(), None, ORIGIN.into()));
    *state.users.write().await = jishi_app::users::load_users(events.as_ref())
        .await
        .expect("users");
    let county = common::server::serve(state).await;
    let m = fx.mirror("state", "127.0.0.1:0");

    let pull = |token: Option<&str>| {
        let mut args = vec![
            "mirror-pull",
            "--from",
            county.as_str(),
            "--log-key",
            s(&fx.log_pub),
            "--to",
            m.url.as_str(),
            "--mirror-key",
            s(&fx.mirror_pub),
        ];
        if let Some(t) = token {
            args.extend(["--token", t]);
        }
        common::jishi(&l.db, &args, None)
    };
    // No token, or a recorder's: the envelopes are not served, the mirror
    // cosigns nothing.
    let o = pull(None);
    assert!(!o.status.success());
    assert!(
        common::text(&o).contains("investigator's token"),
        "{}",
        common::text(&o)
    );
    let o = pull(Some(&recorder));
    assert!(!o.status.success());
    assert!(common::text(&o).contains(": 403"), "{}", common::text(&o));
    assert_eq!(
        get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN))).0,
        404
    );

    // The investigator's token: the whole log, checked and cosigned.
    let o = pull(Some(&token));
    let out = common::text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("(701 entries and 701 envelopes sent)"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("\u{2014} {MIRROR} ")))
        .expect("the cosignature");
    check_cosignature(line, MIRROR, &fx.mirror_public, note_text(&note));
    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let addr = m.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&addr, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(701));
    // Pulling again sends nothing new.
    let o = pull(Some(&token));
    assert!(
        common::text(&o).contains("(0 entries and 0 envelopes sent)"),
        "{}",
        common::text(&o)
    );
}
