//! Issue 19, item 2, second part: one trust policy in the C2SP
//! `tlog-policy` form serves the witness client, the mirror and
//! `verify-export`, each as separate processes on loopback.

mod common;
mod mirror_support;

use std::path::Path;

use jishi_ledger::{SignerKey, Suite};
use mirror_support::fixture::*;
use mirror_support::*;

/// One C2SP tlog-policy file serves the witness client (`checkpoint
/// --policy`: whom to ask, what quorum), the mirror (`mirror --policy`:
/// which logs) and `verify-export --policy`; a quorum the file's
/// cosignatures do not meet fails, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_policy_file_serves_the_witness_client_the_mirror_and_verify_export() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 30, "e-2021").await;
    let w = SignerKey::from_secret("city.example/witness", Suite::Cosignature, &[5; 32])
        .expect("witness key");
    let (wkey, wpub) = (fx.path("w.key"), fx.path("w.pub"));
    std::fs::write(&wkey, w.to_private_text()).expect("key");
    std::fs::write(&wpub, w.verifier().to_vkey()).expect("pub");
    let witness = start_witness(&wkey, &fx.log_pub, &fx.path("w"));
    let log_vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let mirror_vkey = std::fs::read_to_string(&fx.mirror_pub).expect("vkey");
    let text = format!(
        "# the county's log, the city's witness and mirror\n\
         log {}\n\
         witness W {} {}\n\
         witness M {}\n\
         group city any W M\n\
         quorum city\n",
        log_vkey.trim(),
        w.verifier().to_vkey(),
        witness.url,
        mirror_vkey.trim()
    );
    let policy = fx.path("policy.txt");
    std::fs::write(&policy, &text).expect("policy");
    let both = fx.path("both.txt");
    std::fs::write(
        &both,
        text.replace("group city any W M", "group city all W M"),
    )
    .expect("policy");

    // The witness client: the checkpoint goes to W (the line with a URL).
    let key = fx.path("log.key");
    let o = common::jishi(
        &l.db,
        &["checkpoint", "--key", s(&key), "--policy", s(&policy)],
        None,
    );
    assert!(o.status.success(), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("cosigned by 1 of 1 witnesses"),
        "{}",
        common::text(&o)
    );
    // Asking for both, of which only W can be asked: the quorum is not met.
    let o = common::jishi(
        &l.db,
        &["checkpoint", "--key", s(&key), "--policy", s(&both)],
        None,
    );
    assert!(!o.status.success());
    assert!(
        common::text(&o).contains("quorum city (2 of W, M) is not met"),
        "{}",
        common::text(&o)
    );

    // verify-export holds a file to the policy: W's line meets `any`, not
    // `all`.
    let export = |name: &str| {
        let file = fx.path(name);
        let o = common::jishi(
            &l.db,
            &[
                "export",
                "election/e-2021/candidate/c-000",
                "--out",
                s(&file),
            ],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        file
    };
    let verify = |file: &Path, policy: &Path| {
        let o = common::jishi(
            &l.db,
            &["verify-export", s(file), "--policy", s(policy)],
            None,
        );
        (o.status.code(), common::text(&o))
    };
    let file = export("case.json");
    let (code, out) = verify(&file, &policy);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(policy: city (1 of W, M))"), "{out}");
    let (code, out) = verify(&file, &both);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("the policy's quorum city (2 of W, M) is not met"),
        "{out}"
    );

    // The mirror takes its logs from the same file; the push stores the
    // mirror's line with the checkpoint, and a new file meets `all`.
    let m = MirrorProcess::start_with(&fx.mirror_key, &["--policy", s(&policy)], &fx.path("m"));
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    let file = export("case2.json");
    let (code, out) = verify(&file, &both);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("cosigned by 2 of 2 (policy: city (2 of W, M))"),
        "{out}"
    );
    let o = common::jishi(&l.db, &["verify"], None);
    assert!(o.status.success(), "{}", common::text(&o));
    // A malformed policy names its line; nothing is verified.
    std::fs::write(&both, text.replace("quorum city", "quorum nobody")).expect("policy");
    let o = common::jishi(
        &l.db,
        &["verify-export", s(&file), "--policy", s(&both)],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::text(&o).contains("policy line 6"),
        "{}",
        common::text(&o)
    );
}
