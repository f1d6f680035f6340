//! The log's side (`jishi mirror-push`): bring a mirror up to the ledger's
//! latest checkpoint and get its cosignature. It asks the mirror what it
//! holds at each step, so it resumes after a cut-off upload or a mirror's
//! restart without remembering anything itself.

use jishi_ledger::canonical::HashedEnvelope;
use jishi_ledger::merkle::MemoryTree;
use jishi_ledger::subtree::subtree_proof;
use jishi_ledger::tree::ProofStore;
use jishi_ledger::{Checkpoint, Digest, Note, NoteSignature, VerifierKey};
use jishi_witness::AddCheckpoint;

use crate::service::SIZE_CONTENT_TYPE;
use crate::wire::{
    encode_envelopes, encode_package, package_ranges, AddEntriesHeader, MirrorInfo,
    PACKAGES_PER_REQUEST,
};

/// Envelopes sent per `jishi/add-envelopes` request.
const ENVELOPES_PER_REQUEST: usize = 4096;

/// Requests before the client gives up (each moves the mirror on, or it
/// is refused).
const MAX_ROUNDS: usize = 10_000;

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The mirror's cosignature line(s), as it answered.
    pub cosignature: String,
    /// The checkpoint note with the mirror's line added (verified if a key
    /// was given).
    pub note: Note,
    pub envelopes_sent: u64,
    pub entries_sent: u64,
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<Answer, String> {
    let resp = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// Pushes the ledger of `store`, up to the checkpoint `note` (which the
/// ledger's tree must match), to the mirror at `url` (its submission
/// prefix). With `events`, the envelopes go first (a jishi log on the
/// mirror). With `mirror_key`, the answer must carry a verifying line of it.
pub async fn push(
    store: &dyn ProofStore,
    url: &str,
    note: &str,
    events: bool,
    mirror_key: Option<&VerifierKey>,
) -> Result<Pushed, String> {
    let parsed = Note::parse(note).map_err(|e| format!("the checkpoint note: {e}"))?;
    let cp = Checkpoint::from_body(parsed.text()).map_err(|e| format!("the checkpoint: {e}"))?;
    let (tree, envelopes) = read_ledger(store, cp.size, events).await?;
    push_log(url, note, tree, envelopes, events, mirror_key).await
}

/// A log read from somewhere (the ledger, or the county's tiles when the
/// city pulls): its entries in a tree, and for a jishi log its envelopes.
pub struct EntryTree {
    tree: MemoryTree,
    entries: Vec<Digest>,
}

impl EntryTree {
    pub fn new() -> EntryTree {
        EntryTree {
            tree: MemoryTree::new(),
            entries: Vec::new(),
        }
    }

    /// Appends one entry (an event hash).
    pub fn push(&mut self, entry: Digest) -> Result<(), String> {
        self.tree.push(&entry).map_err(|e| e.to_string())?;
        self.entries.push(entry);
        Ok(())
    }

    pub fn root(&self) -> Digest {
        self.tree.root()
    }

    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Option<Digest> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.entries.get(i))
            .copied()
    }
}

impl Default for EntryTree {
    fn default() -> Self {
        EntryTree::new()
    }
}

/// Pushes a log held in memory, up to the checkpoint `note` (whose root
/// its tree must have), to the mirror at `url`.
pub async fn push_log(
    url: &str,
    note: &str,
    tree: EntryTree,
    envelopes: Vec<Vec<u8>>,
    events: bool,
    mirror_key: Option<&VerifierKey>,
) -> Result<Pushed, String> {
    let url = url.trim_end_matches('/');
    let parsed = Note::parse(note).map_err(|e| format!("the checkpoint note: {e}"))?;
    let cp = Checkpoint::from_body(parsed.text()).map_err(|e| format!("the checkpoint: {e}"))?;
    if tree.len() != cp.size || tree.root() != cp.root {
        return Err(format!(
            "the log's tree of {} entries has root {}, not the checkpoint's {} at size {}",
            tree.len(),
            tree.root(),
            cp.root,
            cp.size
        ));
    }
    if events && envelopes.len() as u64 != cp.size {
        return Err(format!(
            "{} envelopes for {} entries",
            envelopes.len(),
            cp.size
        ));
    }
    let http = reqwest::Client::new();
    add_checkpoint(&http, url, note, &tree, cp.size).await?;
    let mut envelopes_sent = 0;
    if events {
        envelopes_sent = add_envelopes(&http, url, &cp.origin, &envelopes).await?;
    }
    let entries = tree.entries.clone();
    let mut sent = add_entries(&http, url, &cp.origin, cp.size, &tree, &entries).await;
    if events && sent.as_ref().is_err_and(|e| e.contains("were dropped")) {
        // The mirror held envelopes someone else uploaded, which our
        // entries proved false: send ours again, once.
        envelopes_sent += add_envelopes(&http, url, &cp.origin, &envelopes).await?;
        sent = add_entries(&http, url, &cp.origin, cp.size, &tree, &entries).await;
    }
    let (line, entries_sent) = sent?;
    // The ledger's stored note may already carry this mirror's line from
    // an earlier push: the fresh one replaces it.
    let mut with = match mirror_key {
        Some(k) => parsed.without_signatures_of(k),
        None => parsed.clone(),
    };
    for l in line.lines() {
        let sig = NoteSignature::parse_line(l, 1).map_err(|e| format!("the mirror's line: {e}"))?;
        match mirror_key {
            Some(k) if k.name() == sig.name && k.key_id() == sig.key_id => {
                with.push_signature(sig).map_err(|e| e.to_string())?;
            }
            Some(_) => {}
            // Without a key nothing is verified or stored; a line the note
            // already has is left as it is.
            None => {
                let _ = with.push_signature(sig);
            }
        }
    }
    if let Some(k) = mirror_key {
        let v = with
            .verify(std::slice::from_ref(k))
            .map_err(|e| format!("the mirror's cosignature does not verify: {e}"))?;
        if !v.is_signed_by(k) {
            return Err("the mirror's answer holds no line of its key".into());
        }
    }
    Ok(Pushed {
        cosignature: line,
        note: with,
        envelopes_sent,
        entries_sent,
    })
}

async fn read_ledger(
    store: &dyn ProofStore,
    size: u64,
    events: bool,
) -> Result<(EntryTree, Vec<Vec<u8>>), String> {
    let mut tree = EntryTree::new();
    let mut envelopes = Vec::new();
    let mut next = 1u64;
    while next <= size {
        let want = usize::try_from((size + 1 - next).min(1000)).unwrap_or(1000);
        let rows = store
            .read_rows(next, want)
            .await
            .map_err(|e| format!("reading the ledger from position {next}: {e}"))?;
        if rows.is_empty() {
            return Err(format!(
                "the ledger ends before position {next}; the checkpoint has {size}"
            ));
        }
        for row in rows {
            let hash = Digest::from_slice(&row.hash)
                .ok_or_else(|| format!("position {}: no 32-byte hash", row.position))?;
            tree.push(hash)?;
            if events {
                let event = row.into_event().map_err(|e| e.to_string())?;
                let id = event.event_id.hyphenated().to_string();
                let mut item = Vec::new();
                HashedEnvelope::of(&event, &id).write_tagged(&mut item);
                envelopes.push(item);
            }
            next += 1;
        }
    }
    Ok((tree, envelopes))
}

async fn add_checkpoint(
    http: &reqwest::Client,
    url: &str,
    note: &str,
    tree: &EntryTree,
    size: u64,
) -> Result<(), String> {
    let mut old = 0;
    for attempt in 0..2 {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            tree.tree
                .prove_consistency(old, size)
                .map_err(|e| e.to_string())?
                .path
        };
        let body = AddCheckpoint {
            old,
            proof,
            note: note.to_string(),
        }
        .encode();
        let a = post(http, &format!("{url}/add-checkpoint"), body.into_bytes()).await?;
        match a.status {
            200 => return Ok(()),
            409 if attempt == 0 && a.content_type.starts_with(SIZE_CONTENT_TYPE) => {
                let held: u64 =
                    a.body.trim_end().parse().map_err(|_| {
                        format!("409 with a size that is not a number: {:?}", a.body)
                    })?;
                if held > size {
                    return Err(format!(
                        "the mirror holds a pending checkpoint of size {held}, larger than this \
                         one ({size}): the log was rolled back, or another history was sent"
                    ));
                }
                old = held;
            }
            s => return Err(format!("add-checkpoint: {s}: {}", a.body.trim_end())),
        }
    }
    Err("add-checkpoint: refused twice".into())
}

async fn add_envelopes(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    envelopes: &[Vec<u8>],
) -> Result<u64, String> {
    let endpoint = format!("{url}/jishi/add-envelopes");
    let ask = post(http, &endpoint, encode_envelopes(origin, 0, &[])).await?;
    if ask.status != 200 {
        return Err(format!(
            "add-envelopes: {}: {}",
            ask.status,
            ask.body.trim_end()
        ));
    }
    let mut next: usize = ask
        .body
        .trim_end()
        .parse()
        .map_err(|_| format!("add-envelopes: not an index: {:?}", ask.body))?;
    let mut sent = 0;
    while next < envelopes.len() {
        let chunk = &envelopes[next..envelopes.len().min(next + ENVELOPES_PER_REQUEST)];
        let a = post(
            http,
            &endpoint,
            encode_envelopes(origin, next as u64, chunk),
        )
        .await?;
        if a.status != 200 {
            return Err(format!(
                "add-envelopes: {}: {}",
                a.status,
                a.body.trim_end()
            ));
        }
        sent += chunk.len() as u64;
        next = a
            .body
            .trim_end()
            .parse()
            .map_err(|_| format!("add-envelopes: not an index: {:?}", a.body))?;
    }
    Ok(sent)
}

async fn add_entries(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    size: u64,
    tree: &EntryTree,
    entries: &[Digest],
) -> Result<(String, u64), String> {
    let endpoint = format!("{url}/add-entries");
    let mut start = 0u64;
    let mut end = 0u64;
    let mut sent = 0u64;
    for _ in 0..MAX_ROUNDS {
        let mut body = AddEntriesHeader {
            origin: origin.to_string(),
            upload_start: start,
            upload_end: end,
            ticket: Vec::new(),
        }
        .encode();
        for p in package_ranges(start, end)
            .into_iter()
            .take(PACKAGES_PER_REQUEST)
        {
            let proof =
                subtree_proof(&tree.tree, p.proof_start, p.end, end).map_err(|e| e.to_string())?;
            let items: Vec<&[u8]> = entries[p.start as usize..p.end as usize]
                .iter()
                .map(|d| d.0.as_slice())
                .collect();
            sent += items.len() as u64;
            body.extend_from_slice(&encode_package(&items, &proof));
        }
        let a = post(http, &endpoint, body).await?;
        match a.status {
            200 => return Ok((a.body, sent)),
            202 | 409 => {
                let info = MirrorInfo::parse(&a.body).ok_or_else(|| {
                    format!(
                        "add-entries: {} without mirror info: {:?}",
                        a.status, a.body
                    )
                })?;
                if info.pending_size != size {
                    return Err(format!(
                        "add-entries: the mirror's pending checkpoint is of size {}, not {size}",
                        info.pending_size
                    ));
                }
                (start, end) = (info.next_entry.min(size), size);
            }
            s => return Err(format!("add-entries: {s}: {}", a.body.trim_end())),
        }
    }
    Err("add-entries: the mirror did not finish".into())
}
