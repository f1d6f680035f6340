//! A nominee's national id number typed into the nomination form or sent to
//! the API (domain decision 34): with the server's person key it becomes
//! the keyed reference `jishi person` follows across elections, and the
//! number itself is in no byte of the ledger; without the key, or not an id
//! number, it is refused, naming the field, with nothing written.

mod common;
#[path = "common/site.rs"]
mod site;
#[path = "common/township.rs"]
mod township;

use common::browser::run_ok;
use serde_json::{json, Value};
use site::{head, submit, Site};

const ID: &str = "11010119900307109X";

fn ledger_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(b) = std::fs::read(p) {
            all.extend(b);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn an_id_number_is_recorded_only_as_its_keyed_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("person.db");
    run_ok(&db, &["init"]);
    let key = dir.path().join("person.key");
    let key_path = key.to_str().expect("path");
    run_ok(&db, &["person-key", "new", "--out", key_path]);
    let tokens = township::add_users(&db);
    let site = Site::start_with(dir.path(), &db, tokens.clone(), &["--person-key", key_path]);
    let bare = Site::start_with(dir.path(), &db, tokens, &[]);
    common::server::rt().block_on(async {
        let steps = township::steps();
        for st in steps.iter().take(2) {
            let (status, _, body, _) = submit(&site, st).await;
            assert_eq!(status, 303, "{}: {body}", st.kind);
        }
        let mut nomination = steps
            .iter()
            .find(|s| s.kind == "candidate.nominated")
            .expect("a nomination")
            .clone();
        // The form asks for the number only where the server has the key.
        let (_, page) = site
            .get("zzb-wang", &township::form_path(&nomination))
            .await;
        assert!(
            page.contains("name=\"id_number\""),
            "the form has the input"
        );
        let (_, page) = bare
            .get("zzb-wang", &township::form_path(&nomination))
            .await;
        assert!(!page.contains("name=\"id_number\""), "no key, no input");

        // Not an id number: refused on the form, naming it, not echoed.
        let before = head(&db);
        nomination
            .fields
            .push(("id_number", "110101199003071091".into()));
        let (status, _, body, _) = submit(&site, &nomination).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("data-field=\"id_number\""), "{body}");
        assert!(
            !body.contains("110101199003071091"),
            "the number is not shown again"
        );
        assert_eq!(head(&db), before);
        // Without the key: refused too.
        nomination.fields.pop();
        nomination.fields.push(("id_number", ID.into()));
        let (status, _, body, _) = submit(&bare, &nomination).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("no person key"), "{body}");
        assert_eq!(head(&db), before);
        // With the key: recorded, as its reference.
        let (status, _, body, _) = submit(&site, &nomination).await;
        assert_eq!(status, 303, "{body}");

        // The API: the same, for the second nominee; no key, or both given,
        // is a 400 naming id_number.
        let body = |candidate: &str, extra: Value| {
            let mut b = json!({
                "election_id": township::ELECTION, "candidate_id": candidate,
                "occurred_at": "2021-04-14T10:00:00+08:00", "name": "赵六", "sex": "male",
                "birth_date": "1985-01-01", "current_post": "副镇长", "township_work_years": 5,
                "incumbent": false, "exchanged": false, "election_committee_member": false, "method": "meeting", "nominator_id": "qs-party",
                "nominator_name": "青山镇党委"
            });
            if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            b
        };
        let post = |s: &Site, b: Value| {
            s.http
                .post(format!("{}/api/record/candidate.nominated", s.base))
                .bearer_auth(&s.tokens["zzb-wang"])
                .json(&b)
                .send()
        };
        let before = head(&db);
        let r = post(
            &bare,
            body("c-09", json!({"id_number": "110101198501010017"})),
        )
        .await
        .expect("post");
        assert_eq!(r.status(), 400);
        assert!(r.text().await.expect("text").contains("id_number"));
        let r = post(
            &site,
            body(
                "c-09",
                json!({"id_number": "110101198501010017", "person_ref": "x"}),
            ),
        )
        .await
        .expect("post");
        assert_eq!(r.status(), 400);
        assert_eq!(head(&db), before);
        let r = post(
            &site,
            body("c-09", json!({"id_number": "110101198501010017"})),
        )
        .await
        .expect("post");
        let status = r.status();
        assert_eq!(status, 201, "{}", r.text().await.unwrap_or_default());

        // A roster with a 身份证号 column: the preview never shows a number
        // whole, a wrong one is refused naming its cell, and the rows are recorded
        // with references only.
        let header = "人选编号,发生时间,姓名,性别,出生日期,现任职务,乡镇工作年限,推荐方式,nominator_id,nominator_name,身份证号";
        let row = "c-11,2021-04-14 11:00,钱九,男,1984-05-06,副镇长,4,会议推荐,qs-party,青山镇党委,";
        let e = township::ELECTION.replace(':', "%3A");
        let upload = |number: &str| {
            let csv = format!("{header}\n{row}{number}\n");
            let site = &site;
            let e = e.clone();
            async move {
                let (_, page) = site.get("zzb-wang", &format!("/elections/{e}/import")).await;
                let csrf = site::hidden(&page, "csrf");
                site.post_file(
                    "zzb-wang",
                    &format!("/elections/{e}/import"),
                    &[("csrf", &csrf), ("kind", "candidate.nominated")],
                    "roster.csv",
                    csv.as_bytes(),
                )
                .await
            }
        };
        let (status, _, page) = upload("110101198405060010").await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("K列「身份证号」"), "{page}");
        assert!(!page.contains("110101198405060010"), "nor a wrong one");
        let (status, _, page) = upload("110101198405060014").await;
        assert_eq!(status, 200, "{page}");
        assert!(!page.contains("110101198405060014"), "the number is not shown whole");
        let (status, _, body) = site
            .post(
                "zzb-wang",
                &format!("/elections/{e}/import/confirm"),
                &site::hidden_fields(&page, "import-confirm"),
            )
            .await;
        assert_eq!(status, 303, "{body}");
    });
    // `jishi person` finds both by the number and the key; neither number
    // is anywhere in the ledger's bytes.
    let found = run_ok(
        &db,
        &[
            "person",
            "--id-number",
            ID,
            "--person-key",
            key_path,
            "--json",
        ],
    );
    assert!(found.contains("c-01"), "{found}");
    let found = run_ok(
        &db,
        &[
            "person",
            "--id-number",
            "110101198501010017",
            "--person-key",
            key_path,
            "--json",
        ],
    );
    assert!(found.contains("c-09"), "{found}");
    let found = run_ok(
        &db,
        &[
            "person",
            "--id-number",
            "110101198405060014",
            "--person-key",
            key_path,
            "--json",
        ],
    );
    assert!(found.contains("c-11"), "{found}");
    let bytes = ledger_bytes(&db);
    for number in [
        ID,
        "11010119900307109x",
        "110101198501010017",
        "1101011990030710",
    ] {
        assert!(!contains(&bytes, number), "{number} is in the ledger");
    }
    run_ok(&db, &["verify"]);
}
