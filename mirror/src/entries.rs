//! `add-entries` (c2sp.org/tlog-mirror) and `jishi/add-envelopes` (jishi's
//! companion, docs/FORMAT-merkle.md §15.3): read the body as it comes,
//! verify each package against the pending checkpoint with its subtree
//! consistency proof, commit it, and go on; stop at the first package or
//! envelope that does not verify, name it, and keep what came before.

use axum::body::Body;
use jishi_ledger::merkle::node_hash;
use jishi_ledger::subtree::verify_subtree_consistency;
use jishi_ledger::{Digest, Note};
use sha2::Digest as _;

use crate::body::BodyReader;
use crate::events::{EnvelopeChecker, EnvelopeError};
use crate::service::{Mirror, Reply};
use crate::store::Pending;
use crate::wire::{package_ranges, MirrorInfo, MAX_PROOF_HASHES, MIRROR_INFO_CONTENT_TYPE};

/// Envelopes committed per transaction.
const ENVELOPE_BATCH: usize = 256;

/// The RFC 9162 leaf hash of an entry: SHA-256(0x00 ‖ entry).
pub fn leaf_of(entry: &[u8]) -> Digest {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Digest(h.finalize().into())
}

/// MTH of a list of leaf hashes (RFC 9162 §2.1.1).
pub fn mth(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => jishi_ledger::merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

impl Mirror {
    fn info(&self, status: u16, origin: &str, pending_size: u64) -> Reply {
        let next = self.store.next_entry(origin).unwrap_or(0);
        Reply {
            status,
            content_type: MIRROR_INFO_CONTENT_TYPE,
            body: MirrorInfo {
                pending_size,
                next_entry: next,
                ticket: Vec::new(),
            }
            .encode(),
        }
    }

    /// Answers one `add-entries` request.
    pub async fn add_entries(&self, body: Body, gzip: bool) -> Reply {
        let mut r = match BodyReader::new(body, gzip).await {
            Ok(r) => r,
            Err(e) => return Reply::text(400, e),
        };
        let cut = |what: &str| Reply::text(400, format!("the header is cut off in {what}"));
        let Some(len) = r.u16().await else {
            return cut("log_origin_size");
        };
        let Some(origin) = r.take(usize::from(len)).await else {
            return cut("log_origin");
        };
        let Ok(origin) = String::from_utf8(origin) else {
            return Reply::text(400, "log_origin is not UTF-8");
        };
        let (Some(start), Some(end)) = (r.u64().await, r.u64().await) else {
            return cut("upload_start or upload_end");
        };
        let Some(tlen) = r.u16().await else {
            return cut("ticket_size");
        };
        if r.take(usize::from(tlen)).await.is_none() {
            return cut("ticket");
        }
        let Some(log) = self.log(&origin).cloned() else {
            return Reply::text(404, format!("this mirror does not follow log {origin:?}"));
        };
        let latest = match self.store.latest_pending(&origin) {
            Ok(p) => p.map_or(0, |p| p.size),
            Err(e) => return Reply::text(500, e.to_string()),
        };
        let mirror_size = match self.store.mirrored(&origin) {
            Ok(m) => m.map_or(0, |m| m.0),
            Err(e) => return Reply::text(500, e.to_string()),
        };
        // "If upload_end is not the tree size of a known pending checkpoint
        // value, or if it is less than the mirror checkpoint's tree size":
        // 409, naming the current pending checkpoint.
        let pending = match self.store.pending_at(&origin, end) {
            Ok(Some(p)) if end >= mirror_size => p,
            Ok(_) => return self.info(409, &origin, latest),
            Err(e) => return Reply::text(500, e.to_string()),
        };
        let next = match self.store.next_entry(&origin) {
            Ok(n) => n,
            Err(e) => return Reply::text(500, e.to_string()),
        };
        // Above the next entry leaves a gap; below the bundle it falls in
        // is "too far below" (the client re-sends what the mirror holds).
        if start > end || start > next || start < next - next % 256 {
            return self.info(409, &origin, end);
        }
        let mut saved = 0usize;
        for (i, p) in package_ranges(start, end).into_iter().enumerate() {
            let at = r.offset;
            let mut entries = Vec::with_capacity((p.end - p.start) as usize);
            let mut whole = true;
            for _ in p.start..p.end {
                let Some(n) = r.u16().await else {
                    whole = false;
                    break;
                };
                let Some(e) = r.take(usize::from(n)).await else {
                    whole = false;
                    break;
                };
                entries.push(e);
            }
            let proof = if whole {
                match r.u8().await {
                    Some(n) if n > MAX_PROOF_HASHES => {
                        return self.refuse(
                            &origin,
                            i,
                            p.start,
                            p.end,
                            at,
                            &format!("num_hashes is {n}, above {MAX_PROOF_HASHES}"),
                        );
                    }
                    Some(n) => r.take(32 * usize::from(n)).await,
                    None => None,
                }
            } else {
                None
            };
            let Some(proof) = proof else {
                // Cut off inside this package: keep the ones before it.
                return if saved == 0 {
                    Reply::text(
                        400,
                        format!(
                            "the body ends inside package 0 (entries [{}, {}), from byte {at}); \
                             nothing was stored{}",
                            p.start,
                            p.end,
                            r.broken
                                .as_ref()
                                .map_or(String::new(), |e| format!(": {e}"))
                        ),
                    )
                } else {
                    self.info(202, &origin, end)
                };
            };
            let proof: Vec<Digest> = proof
                .chunks_exact(32)
                .filter_map(Digest::from_slice)
                .collect();
            if let Err(why) = self.check_package(&log, &origin, &pending, p, &entries, &proof) {
                return self.refuse(&origin, i, p.start, p.end, at, &why);
            }
            if let Err(e) = self.store.commit_entries(&origin, p.start, &entries) {
                tracing::error!("committing entries: {e}");
                return Reply::text(500, "the mirror could not store the entries");
            }
            saved += 1;
        }
        if !r.at_end().await {
            return Reply::text(
                400,
                format!(
                    "bytes follow the last package of [{start}, {end}) at byte {}: the \
                     packages were stored, nothing was cosigned",
                    r.offset
                ),
            );
        }
        match self.store.next_entry(&origin) {
            Ok(n) if n >= end => self.finish(&origin, &pending).await,
            Ok(_) => self.info(if saved > 0 { 202 } else { 400 }, &origin, end),
            Err(e) => Reply::text(500, e.to_string()),
        }
    }

    /// 422: the first package that does not verify, with where it starts.
    fn refuse(&self, origin: &str, i: usize, s: u64, e: u64, at: u64, why: &str) -> Reply {
        let kept = self.store.next_entry(origin).unwrap_or(0);
        Reply::text(
            422,
            format!(
                "package {i} (entries [{s}, {e}), from byte {at} of the body) does not verify: \
                 {why}; the mirror keeps the {kept} entries it had verified"
            ),
        )
    }

    /// A package's checks: the subtree its entries complete, with the
    /// entries held before them, is consistent with the pending checkpoint;
    /// then a jishi log's entries are the hashes of the envelopes uploaded
    /// for them.
    fn check_package(
        &self,
        log: &crate::service::LogConfig,
        origin: &str,
        pending: &Pending,
        p: crate::wire::PackageRange,
        entries: &[Vec<u8>],
        proof: &[Digest],
    ) -> Result<(), String> {
        let held = self
            .store
            .entries(origin, p.proof_start, p.start)
            .map_err(|e| e.to_string())?;
        if held.len() as u64 != p.start - p.proof_start {
            return Err(format!(
                "the mirror does not hold entries [{}, {})",
                p.proof_start, p.start
            ));
        }
        let leaves: Vec<Digest> = held.iter().chain(entries).map(|e| leaf_of(e)).collect();
        let hash = mth(&leaves);
        verify_subtree_consistency(
            p.proof_start,
            p.end,
            pending.size,
            proof,
            &hash,
            &pending.root,
        )
        .map_err(|e| {
            format!(
                "its subtree [{}, {}) is not in the checkpoint of size {}: {e}",
                p.proof_start, p.end, pending.size
            )
        })?;
        if log.events {
            let hashes = self
                .store
                .envelope_hashes(origin, p.start, p.end)
                .map_err(|e| e.to_string())?;
            for (k, e) in entries.iter().enumerate() {
                let index = p.start + k as u64;
                let Some(h) = hashes.get(k) else {
                    return Err(format!(
                        "entry {index} has no envelope: a jishi log's envelopes are uploaded \
                         (jishi/add-envelopes) before its entries"
                    ));
                };
                if e.as_slice() != h.0.as_slice() {
                    // The entry is proved by the log's signed checkpoint;
                    // the envelope was only chained to the ones before it.
                    // So the envelope is wrong: drop it and those after it,
                    // or whoever uploaded it could block the log for ever.
                    self.store
                        .drop_envelopes_from(origin, index)
                        .map_err(|e| e.to_string())?;
                    return Err(format!(
                        "entry {index} is not the BLAKE3 hash of the envelope uploaded for it; \
                         the envelopes from {index} on were dropped: upload them again"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every entry up to the pending checkpoint is stored: make it the
    /// mirror checkpoint, unless a larger one already is, and cosign it.
    async fn finish(&self, origin: &str, pending: &Pending) -> Reply {
        let _guard = self.commit_lock.lock().await;
        let held = match self.store.mirrored(origin) {
            Ok(m) => m.map_or(0, |m| m.0),
            Err(e) => return Reply::text(500, e.to_string()),
        };
        let latest = self
            .store
            .latest_pending(origin)
            .ok()
            .flatten()
            .map_or(pending.size, |p| p.size);
        if pending.size < held {
            return self.info(409, origin, latest);
        }
        let note = match Note::parse(&pending.note) {
            Ok(n) => n,
            Err(e) => return Reply::text(500, format!("the stored pending checkpoint: {e}")),
        };
        let mut cosigned = note.without_signatures_of(&self.cfg.key.verifier());
        if let Err(e) = cosigned.add_signature(&self.cfg.key) {
            return Reply::text(500, format!("cosigning: {e}"));
        }
        let Some(line) = cosigned.signatures().last().map(|s| s.to_line()) else {
            return Reply::text(500, "no cosignature was made");
        };
        match self
            .store
            .set_mirrored(origin, pending.size, &cosigned.to_string())
        {
            Ok(true) => Reply {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: line,
            },
            Ok(false) => self.info(409, origin, latest),
            Err(e) => {
                tracing::error!("storing the mirror checkpoint: {e}");
                Reply::text(
                    500,
                    "the mirror could not store its checkpoint; nothing was cosigned",
                )
            }
        }
    }

    /// Answers one `jishi/add-envelopes` request: 200 with the next
    /// envelope index when every item was taken; 409 with it when `start`
    /// leaves a gap; 422 naming the first item refused (those before it
    /// are kept).
    pub async fn add_envelopes(&self, body: Body, gzip: bool) -> Reply {
        let mut r = match BodyReader::new(body, gzip).await {
            Ok(r) => r,
            Err(e) => return Reply::text(400, e),
        };
        let Some(len) = r.u16().await else {
            return Reply::text(400, "the header is cut off in the origin's length");
        };
        let Some(origin) = r.take(usize::from(len)).await else {
            return Reply::text(400, "the header is cut off in the origin");
        };
        let Ok(origin) = String::from_utf8(origin) else {
            return Reply::text(400, "the origin is not UTF-8");
        };
        let Some(start) = r.u64().await else {
            return Reply::text(400, "the header is cut off in the start index");
        };
        match self.log(&origin) {
            None => return Reply::text(404, format!("this mirror does not follow log {origin:?}")),
            Some(l) if !l.events => {
                return Reply::text(
                    400,
                    format!("log {origin:?} is mirrored as entries only; it takes no envelopes"),
                )
            }
            Some(_) => {}
        }
        let next = match self.store.next_envelope(&origin) {
            Ok(n) => n,
            Err(e) => return Reply::text(500, e.to_string()),
        };
        if start > next {
            return Reply {
                status: 409,
                content_type: "text/plain; charset=utf-8",
                body: format!("{next}\n"),
            };
        }
        let mut checker = match EnvelopeChecker::new(&self.store, &origin, next) {
            Ok(c) => c,
            Err(e) => return Reply::text(500, e.to_string()),
        };
        let mut batch = Vec::new();
        let mut index = start;
        let outcome = loop {
            if r.at_end().await {
                break Ok(());
            }
            let at = r.offset;
            let item = match r.u16().await {
                Some(n) => r.take(usize::from(n)).await,
                None => None,
            };
            let Some(item) = item else {
                break Err(Reply::text(
                    400,
                    format!("the body ends inside envelope {index} (from byte {at})"),
                ));
            };
            if index < next {
                match self.store.envelope(&origin, index) {
                    Ok(Some(held)) if held == item => {}
                    Ok(_) => {
                        break Err(Reply::text(
                            422,
                            format!(
                                "envelope {index} (from byte {at}) is not the one the mirror holds"
                            ),
                        ))
                    }
                    Err(e) => break Err(Reply::text(500, e.to_string())),
                }
            } else {
                match checker.check(index, &item) {
                    Ok(c) => batch.push(c),
                    Err(EnvelopeError::Invalid { reason, .. }) => {
                        break Err(Reply::text(
                            422,
                            format!("envelope {index} (from byte {at}) is refused: {reason}"),
                        ))
                    }
                    Err(EnvelopeError::Store(e)) => break Err(Reply::text(500, e.to_string())),
                }
                if batch.len() == ENVELOPE_BATCH {
                    if let Err(e) = self.store.commit_envelopes(&origin, &batch) {
                        break Err(Reply::text(500, e.to_string()));
                    }
                    batch.clear();
                }
            }
            index += 1;
        };
        if let Err(e) = self.store.commit_envelopes(&origin, &batch) {
            return Reply::text(500, e.to_string());
        }
        match outcome {
            Ok(()) => Reply::text(
                200,
                format!("{}", self.store.next_envelope(&origin).unwrap_or(0)),
            ),
            Err(mut reply) => {
                if reply.status != 500 {
                    let kept = self.store.next_envelope(&origin).unwrap_or(0);
                    reply.body = format!(
                        "{}; the mirror keeps the {kept} envelopes it had checked\n",
                        reply.body.trim_end()
                    );
                }
                reply
            }
        }
    }
}
