//! The monitoring side: each mirrored log under `/<origin hash>/` as C2SP
//! tlog-tiles: `checkpoint` (the log's note with the mirror's
//! cosignature), Merkle tiles and entry bundles, up to the mirror
//! checkpoint's size only, so that everything served is covered by what the
//! mirror cosigned. Envelopes are kept, not served: they name streams and
//! actors, and the mirror has no readers' roles (D92).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use jishi_ledger::tiles::{TileKind, TilePath, TILE_HEIGHT, TILE_WIDTH};

use crate::entries::{leaf_of, mth};
use crate::service::Mirror;

fn not_found(why: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why + "\n",
    )
        .into_response()
}

fn internal(why: String) -> Response {
    tracing::error!("{why}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why + "\n",
    )
        .into_response()
}

impl Mirror {
    pub(crate) fn serve_checkpoint(&self, hash: &str) -> Response {
        let Some(origin) = self.by_hash.get(hash) else {
            return not_found(format!("no mirrored log has the origin hash {hash:?}"));
        };
        match self.store.mirrored(origin) {
            Ok(Some((_, note))) => (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                note,
            )
                .into_response(),
            Ok(None) => not_found(format!("nothing of {origin} has been mirrored yet")),
            Err(e) => internal(e.to_string()),
        }
    }

    pub(crate) fn serve_tile(&self, hash: &str, path: &str) -> Response {
        let Some(origin) = self.by_hash.get(hash) else {
            return not_found(format!("no mirrored log has the origin hash {hash:?}"));
        };
        let t = match TilePath::parse(path) {
            Ok(t) if t.kind != TileKind::Envelopes => t,
            Ok(_) => return not_found(format!("not a tile path: {path}")),
            Err(e) => return not_found(e.to_string()),
        };
        let size = match self.store.mirrored(origin) {
            Ok(m) => m.map_or(0, |m| m.0),
            Err(e) => return internal(e.to_string()),
        };
        let needed = t.leaves_needed().unwrap_or(u64::MAX);
        if needed > size {
            return not_found(format!(
                "the tile needs {needed} entries and the mirror checkpoint has {size}"
            ));
        }
        let first = t.index * TILE_WIDTH;
        let mut out = Vec::new();
        match t.kind {
            TileKind::Hashes(level) => {
                // A node at tree level 8·L covers 256^L leaves; it is
                // computed from the stored entries (D92: no node table).
                let span = 1u64 << (TILE_HEIGHT * u32::from(level));
                for i in 0..t.width {
                    let from = (first + i) * span;
                    let entries = match self.store.entries(origin, from, from + span) {
                        Ok(e) if e.len() as u64 == span => e,
                        Ok(e) => {
                            return internal(format!(
                                "the store holds {} of entries [{from}, {})",
                                e.len(),
                                from + span
                            ))
                        }
                        Err(e) => return internal(e.to_string()),
                    };
                    let leaves: Vec<_> = entries.iter().map(|e| leaf_of(e)).collect();
                    out.extend_from_slice(&mth(&leaves).0);
                }
            }
            _ => {
                let entries = match self.store.entries(origin, first, first + t.width) {
                    Ok(e) => e,
                    Err(e) => return internal(e.to_string()),
                };
                for e in entries {
                    out.extend_from_slice(&(e.len() as u16).to_be_bytes());
                    out.extend_from_slice(&e);
                }
            }
        }
        (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            out,
        )
            .into_response()
    }
}
