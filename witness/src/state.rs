//! The witness's durable state: per origin, the last checkpoint it cosigned.
//!
//! One JSON file, `state.json` in the state directory (docs/FORMAT-merkle.md
//! §12.3), replaced atomically: written to `state.json.tmp`, flushed to
//! disk, renamed over the old file, and the directory flushed, before the
//! witness answers. A crash leaves either the old state or the new, never a
//! torn one; and a cosignature is never sent for a state not on disk, so a
//! restarted witness cannot be talked into cosigning a fork of what it
//! already cosigned.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jishi_ledger::Digest;
use serde::{Deserialize, Serialize};

/// The `format` of `state.json`.
pub const STATE_FORMAT: &str = "jishi-witness-state/2";

/// What the witness remembers of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogState {
    /// The size of the last checkpoint cosigned.
    pub size: u64,
    /// Its root, as 64 hex digits.
    pub root: Digest,
    /// The note as submitted (the log's signature on it), for evidence.
    pub checkpoint: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessState {
    pub format: String,
    /// By origin.
    pub logs: BTreeMap<String, LogState>,
}

impl WitnessState {
    fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Reads the state of `dir`, or an empty one if the witness never
    /// cosigned (no file). A file that does not parse is an error: the
    /// witness must not start from nothing when it has forgotten.
    pub fn load(dir: &Path) -> std::io::Result<WitnessState> {
        match std::fs::read(Self::path(dir)) {
            Ok(bytes) => {
                let s: WitnessState = serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", Self::path(dir).display()),
                    )
                })?;
                if s.format != STATE_FORMAT {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{}: format {:?}, not {STATE_FORMAT:?}",
                            Self::path(dir).display(),
                            s.format
                        ),
                    ));
                }
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WitnessState {
                format: STATE_FORMAT.into(),
                logs: BTreeMap::new(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Writes the state durably (see the module documentation).
    pub fn store(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("state.json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, Self::path(dir))?;
        std::fs::File::open(dir)?.sync_all()
    }
}
