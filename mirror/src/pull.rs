//! Pull mode: the city fetches a county's log from the tiles `jishi serve`
//! publishes under `/tlog/` (docs/FORMAT-merkle.md §14), checks it against
//! the county's signed checkpoint, and feeds its own mirror with it through
//! the same calls a push uses. The county need not reach the city; the
//! city needs an investigator's token for the envelope bundles (D75).
//!
//! Every check the mirror makes it makes again on what arrives; the ones
//! here (the checkpoint's signature, each envelope's BLAKE3, the tree's
//! root) only stop a bad fetch early, with the source named.

use jishi_ledger::tiles::{bundle_items, TileKind, TilePath, TILE_WIDTH};
use jishi_ledger::{Checkpoint, Digest, VerifierKey};

use crate::client::{push_log, EntryTree, Pushed};

async fn fetch(http: &reqwest::Client, url: &str, token: Option<&str>) -> Result<Vec<u8>, String> {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{url}: {}: {}",
            status.as_u16(),
            String::from_utf8_lossy(&body).trim_end()
        ));
    }
    Ok(body.to_vec())
}

/// Fetches the log served at `source` (the server's base URL; the tiles are
/// under `<source>/tlog/`), checks it under `log_key`, and pushes it to the
/// mirror at `mirror`. With `events`, the envelope bundles are fetched
/// with `token` and sent first.
pub async fn pull(
    source: &str,
    token: Option<&str>,
    log_key: &VerifierKey,
    mirror: &str,
    events: bool,
    mirror_key: Option<&VerifierKey>,
) -> Result<Pushed, String> {
    let base = format!("{}/tlog", source.trim_end_matches('/'));
    let http = reqwest::Client::new();
    let note_bytes = fetch(&http, &format!("{base}/checkpoint"), None).await?;
    let note = String::from_utf8(note_bytes).map_err(|_| "the checkpoint is not UTF-8")?;
    let (cp, _) = Checkpoint::open(&note, std::slice::from_ref(log_key))
        .map_err(|e| format!("{base}/checkpoint does not verify under the log's key: {e}"))?;
    if cp.origin != log_key.name() {
        return Err(format!(
            "the checkpoint is of {:?}, the key of {:?}",
            cp.origin,
            log_key.name()
        ));
    }
    let mut tree = EntryTree::new();
    let mut envelopes = Vec::new();
    let mut n = 0;
    while n < cp.size {
        let width = (cp.size - n).min(TILE_WIDTH);
        let path = |kind| {
            TilePath {
                kind,
                index: n / TILE_WIDTH,
                width,
            }
            .to_path()
        };
        let url = format!("{base}/{}", path(TileKind::Entries));
        let bundle = fetch(&http, &url, None).await?;
        let items = bundle_items(&bundle).ok_or_else(|| format!("{url}: not an entry bundle"))?;
        if items.len() as u64 != width {
            return Err(format!("{url}: {} entries, not {width}", items.len()));
        }
        for (i, e) in items.iter().enumerate() {
            let d = Digest::from_slice(e)
                .ok_or_else(|| format!("{url}: entry {} is not 32 bytes", n + i as u64))?;
            tree.push(d)?;
        }
        if events {
            let url = format!("{base}/{}", path(TileKind::Envelopes));
            let bundle = fetch(&http, &url, token).await?;
            let items =
                bundle_items(&bundle).ok_or_else(|| format!("{url}: not an envelope bundle"))?;
            if items.len() as u64 != width {
                return Err(format!("{url}: {} envelopes, not {width}", items.len()));
            }
            for (i, item) in items.iter().enumerate() {
                let index = n + i as u64;
                let hash: Digest = blake3::hash(item).into();
                let entry = tree.entry(index);
                if Some(hash) != entry {
                    return Err(format!(
                        "{url}: envelope {index} does not hash to entry {index}"
                    ));
                }
                envelopes.push(item.to_vec());
            }
        }
        n += width;
    }
    if tree.root() != cp.root {
        return Err(format!(
            "the entries served by {base} have root {}, not the signed checkpoint's {}",
            tree.root(),
            cp.root
        ));
    }
    push_log(mirror, &note, tree, envelopes, events, mirror_key).await
}
