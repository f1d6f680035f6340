//! Issue 19, item 2: `jishi mirror`, a C2SP tlog-mirror, as separate
//! processes on loopback.
//!
//! - A client written here from the C2SP texts (tests/mirror_support)
//!   uploads a jishi log; the mirror's cosignature is checked from
//!   tlog-cosignature with ed25519-dalek, and azul's `tlog_tiles` verifies
//!   the tiles the mirror serves.
//! - The mirror is killed mid-upload and restarted: it keeps every package
//!   it had verified, and `jishi mirror-push` resumes from there.
//! - A corrupted entry package, a corrupted envelope and a truncated upload
//!   stop where they are bad, named, with what came before kept.
//! - A forked source (same key, another tree), a replayed old checkpoint,
//!   another key and an unknown origin are refused, and the fork leaves
//!   evidence that `jishi verify-evidence` proves.

mod common;
mod mirror_support;

use std::io::Write as _;

use jishi_ledger::{ProofStore, SignerKey};
use mirror_support::fixture::*;
use mirror_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_the_spec_uploads_and_the_tiles_verify_with_tlog_tiles() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let size = l.store.tree_size().await.expect("size");
    assert_eq!(size, 701);
    let m = fx.mirror("state", "127.0.0.1:0");

    // Nothing is served before anything is mirrored.
    assert_eq!(
        get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN))).0,
        404
    );
    // add-checkpoint: as to a witness, but the answer cosigns nothing.
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &note));
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "no cosignature for a pending checkpoint"
    );
    assert_eq!(next_entry(&m), (701, 0));
    // Entries before their envelopes are refused for a jishi log.
    let entries = l.entries(size).await;
    let mut first = add_entries_header(ORIGIN, 0, size);
    first.extend(packages(&entries, 0, size).concat());
    let (status, body) = post(&m, "/add-entries", &first);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("entry 0 has no envelope"), "{body}");

    let (status, body) = post(&m, "/jishi/add-envelopes", &l.envelopes_body(size).await);
    assert_eq!((status, body.as_str()), (200, "701\n"));
    // A prefix of the canonical sequence: the first package, then 202.
    let pk = packages(&entries, 0, size);
    let mut one = add_entries_header(ORIGIN, 0, size);
    one.extend_from_slice(&pk[0]);
    let (status, _, info) = http(&m.addr(), "POST", "/add-entries", "", &one);
    assert_eq!(status, 202);
    assert_eq!(mirror_info(&info), (701, 256));
    // The rest from the advertised next entry, gzip-compressed.
    let mut rest = add_entries_header(ORIGIN, 256, size);
    rest.extend(packages(&entries, 256, size).concat());
    let (status, _, line) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "Content-Encoding: gzip\r\n",
        &gzip(&rest),
    );
    let line = String::from_utf8_lossy(&line).to_string();
    assert_eq!(status, 200, "{line}");
    check_cosignature(&line, MIRROR, &fx.mirror_public, note_text(&note));

    // The served checkpoint carries the log's signature and the mirror's.
    let (status, served) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert_eq!(status, 200);
    let served = String::from_utf8(served).expect("utf-8");
    assert!(served.starts_with(&note[..note.len() - 1]), "{served}");
    let mline = served
        .lines()
        .find(|l| l.contains(MIRROR))
        .expect("the mirror's line");
    check_cosignature(mline, MIRROR, &fx.mirror_public, note_text(&note));

    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let addr = m.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&addr, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(701));
    // The same log on a mirror that keeps it as entries only (any C2SP
    // log): the spec's two calls alone, nothing of jishi's.
    let plain = MirrorProcess::start_with(
        &fx.mirror_key,
        &["--entries-log", s(&fx.log_pub)],
        &fx.path("plain"),
    );
    assert_eq!(
        post(
            &plain,
            "/add-checkpoint",
            &add_checkpoint_body(0, &[], &note)
        )
        .0,
        200
    );
    let mut all = add_entries_header(ORIGIN, 0, size);
    all.extend(packages(&entries, 0, size).concat());
    let (status, line) = post(&plain, "/add-entries", &all);
    assert_eq!(status, 200, "{line}");
    check_cosignature(&line, MIRROR, &fx.mirror_public, note_text(&note));
    let (status, body) = post(
        &plain,
        "/jishi/add-envelopes",
        &l.envelopes_body(size).await,
    );
    assert_eq!(
        status, 400,
        "an entries-only log takes no envelopes: {body}"
    );
    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let addr = plain.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&addr, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(701));
    // A tile beyond the mirror checkpoint, and an unknown origin, are 404.
    assert_eq!(
        get(&m, &format!("/{}/tile/0/002.p/190", origin_path(ORIGIN))).0,
        404
    );
    assert_eq!(
        get(
            &m,
            &format!("/{}/tile/0/000", origin_path("other.example/log"))
        )
        .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_killed_mid_upload_keeps_what_it_verified_and_the_push_resumes() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let size = 701;
    let m = fx.mirror("state", "127.0.0.1:0");
    let addr = m.addr();
    assert_eq!(
        post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &note)).0,
        200
    );
    assert_eq!(
        post(&m, "/jishi/add-envelopes", &l.envelopes_body(size).await).0,
        200
    );

    // An upload of all three packages, of which only two are sent: the
    // connection stays open while the mirror is killed.
    let entries = l.entries(size).await;
    let pk = packages(&entries, 0, size);
    let mut body = add_entries_header(ORIGIN, 0, size);
    let full_len = body.len() + pk.iter().map(Vec::len).sum::<usize>();
    body.extend_from_slice(&pk[0]);
    body.extend_from_slice(&pk[1]);
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /add-entries HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {full_len}\r\n\r\n"
    )
    .expect("send");
    s.write_all(&body).expect("send two packages");
    s.flush().expect("flush");
    let mut seen = (0, 0);
    for _ in 0..100 {
        seen = next_entry(&m);
        if seen.1 == 512 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        seen,
        (701, 512),
        "both packages committed while the upload is open"
    );
    let listen = addr.clone();
    drop(m); // SIGKILL, mid-upload
    drop(s);

    // Restarted on the same state: the two packages are there, nothing is
    // cosigned yet, and the push resumes from entry 512.
    let m = fx.mirror("state", &listen);
    assert_eq!(next_entry(&m), (701, 512));
    assert_eq!(
        get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN))).0,
        404
    );
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(189 entries and 0 envelopes sent)"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("\u{2014} {MIRROR} ")))
        .expect("the cosignature");
    check_cosignature(line, MIRROR, &fx.mirror_public, note_text(&note));

    // The log grows; the next push sends only what is new: the 300 new
    // events and the event that registered the mirror's key (position 702).
    l.grow(70, 30, "e-2021").await;
    let note2 = fx.checkpoint(&l, "cp2.note");
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("up to size 1002 (301 entries and 301 envelopes sent)"),
        "{out}"
    );
    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let a = m.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&a, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(1002));
    let (_, served) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert!(String::from_utf8_lossy(&served).starts_with(note_text(&note2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_and_truncated_uploads_stop_there_and_keep_what_came_before() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let size = 701;
    let m = fx.mirror("state", "127.0.0.1:0");
    assert_eq!(
        post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &note)).0,
        200
    );

    // A corrupted envelope: item 300's position is changed. Items 0–299
    // are kept, nothing after it.
    let envs = l.envelopes_body(size).await;
    let needle = b"\"position\":301,";
    let at = envs
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("envelope 300");
    let mut bad = envs.clone();
    bad[at + 12] = b'2'; // "position":321
    let (status, body) = post(&m, "/jishi/add-envelopes", &bad);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("envelope 300"), "{body}");
    assert!(body.contains("keeps the 300 envelopes"), "{body}");
    // A canonical-bytes change that keeps every field: a space.
    let mut spaced = envs.clone();
    spaced.insert(at + 11, b' ');
    // The item's length prefix (before its tag) grows by the byte.
    let tag = envs[..at]
        .windows(13)
        .rposition(|w| w == b"jishi.event.v")
        .expect("the item's tag");
    let len = u16::from_be_bytes([envs[tag - 2], envs[tag - 1]]) + 1;
    spaced[tag - 2..tag].copy_from_slice(&len.to_be_bytes());
    let (status, body) = post(&m, "/jishi/add-envelopes", &spaced);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("envelope 300") && body.contains("not canonical"),
        "{body}"
    );
    assert_eq!(post(&m, "/jishi/add-envelopes", &envs).0, 200);

    // A corrupted entry package: one byte of entry 300 (package 1).
    let entries = l.entries(size).await;
    let mut forged = entries.clone();
    forged[300][5] ^= 1;
    let pk = packages(&entries, 0, size);
    let bad_pk = packages(&forged, 0, size);
    let mut body = add_entries_header(ORIGIN, 0, size);
    let header_len = body.len();
    body.extend_from_slice(&pk[0]);
    body.extend_from_slice(&bad_pk[1]);
    body.extend_from_slice(&pk[2]);
    let (status, text) = post(&m, "/add-entries", &body);
    assert_eq!(status, 422, "{text}");
    let from = format!("from byte {}", header_len + pk[0].len());
    assert!(
        text.contains("package 1 (entries [256, 512)") && text.contains(&from),
        "{text}"
    );
    // Caught by the proof, before the envelopes are looked at.
    assert!(
        text.contains("is not in the checkpoint of size 701"),
        "{text}"
    );
    assert_eq!(
        next_entry(&m),
        (701, 256),
        "package 0 kept, nothing after the bad one"
    );
    // True entries with one byte of the proof changed: the proof alone
    // refuses them.
    let mut bad_proof = pk[1].clone();
    let last = bad_proof.len() - 1;
    bad_proof[last] ^= 1;
    let mut b = add_entries_header(ORIGIN, 256, size);
    b.extend_from_slice(&bad_proof);
    let (status, text) = post(&m, "/add-entries", &b);
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("is not in the checkpoint of size 701"),
        "{text}"
    );
    // A proof count above 63 is refused as such.
    let entries_len = 256 * 34;
    let mut many = pk[1][..entries_len].to_vec();
    many.push(64);
    let mut b = add_entries_header(ORIGIN, 256, size);
    b.extend_from_slice(&many);
    let (status, text) = post(&m, "/add-entries", &b);
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("num_hashes is 64"), "{text}");
    assert_eq!(next_entry(&m), (701, 256));
    // The forged package alone, with the proof made for its own tree, is
    // refused too (its entry 300 is not the hash of envelope 300).
    let other = {
        let mut b = add_entries_header(ORIGIN, 256, size);
        b.extend_from_slice(&bad_pk[1]);
        b
    };
    assert_eq!(post(&m, "/add-entries", &other).0, 422);

    // A truncated upload: the body ends inside the first package sent.
    let mut cut = add_entries_header(ORIGIN, 256, size);
    cut.extend_from_slice(&pk[1][..pk[1].len() / 2]);
    let (status, text) = post(&m, "/add-entries", &cut);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("nothing was stored"), "{text}");
    // A start above the next entry leaves a gap: 409 with the info.
    let (status, _, info) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "",
        &add_entries_header(ORIGIN, 512, size),
    );
    assert_eq!((status, mirror_info(&info)), (409, (701, 256)));
    assert_eq!(next_entry(&m), (701, 256));

    // The push resumes from 256 and the mirror cosigns.
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(445 entries and 0 envelopes sent)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_source_a_replayed_checkpoint_and_a_wrong_key_are_refused() {
    let fx = Fixture::new();
    let a = fx.ledger("a.db", 30, "e-2021").await;
    let a300 = fx.checkpoint(&a, "a300.note");
    let m = fx.mirror("state", "127.0.0.1:0");
    let (code, out) = push(&a, &fx, &m);
    assert_eq!(code, 0, "{out}");
    let (_, held) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));

    // The same key signs another history (a forked ledger).
    let b = fx.ledger("b.db", 30, "e-fork").await;
    let b300 = fx.checkpoint(&b, "b300.note");
    assert_ne!(a300, b300);
    b.grow(30, 20, "e-fork").await;
    let b500 = fx.checkpoint(&b, "b500.note");
    // Same size, another root: 409 with the size held, split-view evidence.
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(301, &[], &b300));
    assert_eq!((status, body.as_str()), (409, "301\n"));
    // A larger checkpoint with the fork's own consistency proof: 422.
    let proof: Vec<[u8; 32]> = b
        .store
        .consistency_proof(301, 501)
        .await
        .expect("proof")
        .path
        .iter()
        .map(|d| *d.as_bytes())
        .collect();
    let (status, body) = post(
        &m,
        "/add-checkpoint",
        &add_checkpoint_body(301, &proof, &b500),
    );
    assert_eq!(status, 422, "{body}");
    // Both forks left evidence the log's key alone proves.
    let files = evidence(&fx.path("state"));
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let o = common::jishi(
            &a.db,
            &["verify-evidence", s(f), "--log-key", s(&fx.log_pub)],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        assert!(common::text(&o).contains("PROVEN"), "{}", common::text(&o));
    }
    // The fork's entries do not go in against the held pending checkpoint.
    let fork = b.entries(301).await;
    let mut up = add_entries_header(ORIGIN, 256, 301);
    up.extend(packages(&fork, 256, 301).concat());
    assert_eq!(post(&m, "/add-entries", &up).0, 422);
    let (_, now) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert_eq!(now, held, "the mirror checkpoint is unchanged");

    // The fork's envelopes, which chain to the fork's own history, do not
    // go in after the true log's.
    let forked = b.envelopes_body(501).await;
    let (status, body) = post(&m, "/jishi/add-envelopes", &forked);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("envelope 0") && body.contains("not the one the mirror holds"),
        "{body}"
    );
    // On a new mirror, someone uploads the fork's envelopes first: the true
    // log's entries, proved by its checkpoint, show them false; they are
    // dropped, and the push sends the true ones.
    let m2 = fx.mirror("state2", "127.0.0.1:0");
    let (status, body) = post(&m2, "/jishi/add-envelopes", &b.envelopes_body(301).await);
    assert_eq!((status, body.as_str()), (200, "301\n"));
    let (code, out) = push(&a, &fx, &m2);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(301 entries and 301 envelopes sent)"),
        "{out}"
    );
    drop(m2);

    // The true log grows (400 events, after the one that registered the
    // mirror's key: 702) and is mirrored; then its old checkpoint is
    // replayed: refused, and the mirror checkpoint is not rewound.
    a.grow(30, 40, "e-2021").await;
    fx.checkpoint(&a, "a700.note");
    let (code, out) = push(&a, &fx, &m);
    assert_eq!(code, 0, "{out}");
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(702, &[], &a300));
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &a300));
    assert_eq!((status, body.as_str()), (409, "702\n"));
    // An upload ending at the old size: a pending checkpoint once, but below
    // the mirror checkpoint now.
    let (status, _, info) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "",
        &add_entries_header(ORIGIN, 301, 301),
    );
    assert_eq!((status, mirror_info(&info)), (409, (702, 702)));
    let (_, served) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert!(String::from_utf8_lossy(&served).lines().nth(1) == Some("702"));

    // Another key with the log's name: 403. Another origin: 404.
    let other = SignerKey::from_seed(ORIGIN, &[8; 32]).expect("key");
    let forged = jishi_ledger::Checkpoint::new(ORIGIN, 702, jishi_ledger::Digest([1; 32]))
        .expect("cp")
        .sign(&other)
        .expect("sign")
        .to_string();
    assert_eq!(
        post(
            &m,
            "/add-checkpoint",
            &add_checkpoint_body(702, &[], &forged)
        )
        .0,
        403
    );
    let stranger = SignerKey::from_seed("other.example/log", &[8; 32]).expect("key");
    let theirs =
        jishi_ledger::Checkpoint::new("other.example/log", 1, jishi_ledger::Digest([1; 32]))
            .expect("cp")
            .sign(&stranger)
            .expect("sign")
            .to_string();
    assert_eq!(
        post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &theirs)).0,
        404
    );
    let (status, _) = post(
        &m,
        "/add-entries",
        &add_entries_header("other.example/log", 0, 0),
    );
    assert_eq!(status, 404);
}
