//! Envelope encryption of a petitioner's identity (举报人信息), so that the
//! database holds only ciphertext and a DBA cannot read who filed a petition.
//!
//! * Each record is sealed with a fresh 256-bit **data key** (XChaCha20-
//!   Poly1305, RustCrypto's `chacha20poly1305`; a 192-bit random nonce needs
//!   no counter to stay unique).
//! * The data key is **wrapped** by the election's key-encryption key, which
//!   lives in a keyring directory outside the database (one file per
//!   election, 0600). The ledger stores the ciphertext, both nonces, the
//!   wrapped data key and the key's id; the chain commits to those bytes.
//! * One key per election, because retention runs per election: once an
//!   election's records may be destroyed, deleting its key file
//!   (`jishi sealing-key shred`) makes every identity sealed for it
//!   unreadable, while the chain, which holds only ciphertext, still
//!   verifies. Nothing else has to be deleted, which the ledger never does.
//! * The associated data names the election, candidate and petition, so a
//!   sealed identity moved by SQL to another petition does not open.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The algorithm named in every sealed record.
pub const ALGORITHM: &str = "xchacha20poly1305";
const KEY_FILE_HEADER: &str = "jishi-sealing-key v1";

/// Why a secret could not be sealed or opened. No variant carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "the sealing key of election {election:?} is not in the keyring ({path}): it has been \
         destroyed (shredded) or the server was given another keyring, so this identity can no \
         longer be read"
    )]
    KeyGone { election: String, path: String },
    #[error(
        "the sealed identity does not open for election {election:?}, petition {petition:?}: it was \
         sealed for another election, candidate or petition, or it was altered"
    )]
    NotThisRecord { election: String, petition: String },
    #[error(
        "the identity was sealed under key {sealed_with}, which is not the key the keyring holds \
         for election {election:?} ({holds}): it was sealed for another election, or this \
         election's key was destroyed and a new one made since"
    )]
    KeyMismatch {
        election: String,
        sealed_with: String,
        holds: String,
    },
    #[error("the keyring file {path}: {reason}")]
    BadKeyFile { path: String, reason: String },
    #[error("sealed record: {0}")]
    Malformed(String),
    #[error("the keyring {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a sealed record is bound to (its associated data).
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub election_id: &'a str,
    pub candidate_id: &'a str,
    pub petition_id: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"jishi.petition-source.v1".to_vec();
        for part in [self.election_id, self.candidate_id, self.petition_id] {
            aad.push(0);
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// The secret: who filed the petition and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// A sealed secret as the ledger stores it (base64 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    pub alg: String,
    /// Which key-encryption key wrapped the data key (not secret).
    pub key_id: String,
    pub wrap_nonce: String,
    pub wrapped_key: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// A key-encryption key and its id.
struct Kek {
    id: String,
    key: [u8; 32],
}

fn key_id(key: &[u8; 32]) -> String {
    let d = Sha256::new()
        .chain_update(b"jishi.sealing-key-id.v1\0")
        .chain_update(key)
        .finalize();
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory of key-encryption keys, one file per election. It must
/// not be inside the database or its backups: that is the whole point.
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
}

impl Keyring {
    /// Opens (creating, 0700) the keyring directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Keyring, SealError> {
        let dir = dir.as_ref().to_path_buf();
        let io = |source| SealError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        Ok(Keyring { dir })
    }

    /// The key file of an election: named by a hash of the election id, so
    /// that any id is a safe file name and the listing names no election.
    pub fn key_path(&self, election_id: &str) -> PathBuf {
        let d = Sha256::digest(election_id.as_bytes());
        self.dir.join(format!("{}.key", hex(&d[..16])))
    }

    fn read(&self, election_id: &str) -> Result<Option<Kek>, SealError> {
        let path = self.key_path(election_id);
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SealError::Io {
                    path: shown,
                    source,
                })
            }
        };
        let bad = |reason: &str| SealError::BadKeyFile {
            path: shown.clone(),
            reason: reason.to_string(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(bad(&format!("the first line must be {KEY_FILE_HEADER:?}")));
        }
        if lines.next() != Some(&format!("election {election_id}")) {
            return Err(bad("it names another election"));
        }
        let hexkey = lines
            .next()
            .and_then(|l| l.strip_prefix("key "))
            .ok_or_else(|| bad("the third line must be `key <64 hex digits>`"))?;
        if hexkey.len() != 64 || !hexkey.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key must be 64 hex digits"));
        }
        let mut key = [0u8; 32];
        for (i, k) in key.iter_mut().enumerate() {
            *k = u8::from_str_radix(&hexkey[2 * i..2 * i + 2], 16)
                .map_err(|_| bad("the key must be 64 hex digits"))?;
        }
        Ok(Some(Kek {
            id: key_id(&key),
            key,
        }))
    }

    /// The election's key, made (0600, never overwritten) on first use.
    fn load_or_create(&self, election_id: &str) -> Result<Kek, SealError> {
        if let Some(k) = self.read(election_id)? {
            return Ok(k);
        }
        let key: [u8; 32] = random();
        let path = self.key_path(election_id);
        let io = |source| SealError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut f) => {
                use std::io::Write as _;
                let text = format!(
                    "{KEY_FILE_HEADER}\nelection {election_id}\nkey {}\n",
                    hex(&key)
                );
                f.write_all(text.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(Kek {
                    id: key_id(&key),
                    key,
                })
            }
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.read(election_id)?.ok_or_else(|| SealError::KeyGone {
                    election: election_id.to_string(),
                    path: path.display().to_string(),
                })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Destroys an election's key, overwriting the file before removing it.
    /// Returns whether there was one.
    pub fn shred(&self, election_id: &str) -> Result<bool, SealError> {
        let path = self.key_path(election_id);
        let io = |source| SealError::Io {
            path: path.display().to_string(),
            source,
        };
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(e)),
        };
        std::fs::write(&path, vec![0u8; len as usize]).map_err(io)?;
        std::fs::remove_file(&path).map_err(io)?;
        Ok(true)
    }

    /// Seals `secret` for `binding`, making the election's key if needed.
    pub fn seal(&self, binding: &Binding<'_>, secret: &Secret) -> Result<Sealed, SealError> {
        let kek = self.load_or_create(binding.election_id)?;
        let aad = binding.aad();
        let data_key: [u8; 32] = random();
        let nonce: [u8; 24] = random();
        let wrap_nonce: [u8; 24] = random();
        let plain = serde_json::to_vec(secret).map_err(|e| SealError::Malformed(e.to_string()))?;
        let ciphertext = XChaCha20Poly1305::new((&data_key).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Malformed("encryption failed".into()))?;
        let wrap_aad = [aad.as_slice(), b"\0", kek.id.as_bytes()].concat();
        let wrapped = XChaCha20Poly1305::new((&kek.key).into())
            .encrypt(
                XNonce::from_slice(&wrap_nonce),
                Payload {
                    msg: &data_key,
                    aad: &wrap_aad,
                },
            )
            .map_err(|_| SealError::Malformed("wrapping failed".into()))?;
        Ok(Sealed {
            alg: ALGORITHM.into(),
            key_id: kek.id,
            wrap_nonce: B64.encode(wrap_nonce),
            wrapped_key: B64.encode(wrapped),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        })
    }

    /// Opens a sealed secret stored for `binding`.
    pub fn open_sealed(&self, binding: &Binding<'_>, sealed: &Sealed) -> Result<Secret, SealError> {
        if sealed.alg != ALGORITHM {
            return Err(SealError::Malformed(format!(
                "alg {:?}: only {ALGORITHM} is known",
                sealed.alg
            )));
        }
        let not_this = || SealError::NotThisRecord {
            election: binding.election_id.to_string(),
            petition: binding.petition_id.to_string(),
        };
        let kek = self
            .read(binding.election_id)?
            .ok_or_else(|| SealError::KeyGone {
                election: binding.election_id.to_string(),
                path: self.key_path(binding.election_id).display().to_string(),
            })?;
        if kek.id != sealed.key_id {
            return Err(SealError::KeyMismatch {
                election: binding.election_id.to_string(),
                sealed_with: sealed.key_id.clone(),
                holds: kek.id,
            });
        }
        let b64 = |field: &str, v: &str| {
            B64.decode(v)
                .map_err(|e| SealError::Malformed(format!("{field}: {e}")))
        };
        let nonce = b64("nonce", &sealed.nonce)?;
        let wrap_nonce = b64("wrap_nonce", &sealed.wrap_nonce)?;
        if nonce.len() != 24 || wrap_nonce.len() != 24 {
            return Err(SealError::Malformed("a nonce is not 24 bytes".into()));
        }
        let aad = binding.aad();
        let wrap_aad = [aad.as_slice(), b"\0", kek.id.as_bytes()].concat();
        let data_key = XChaCha20Poly1305::new((&kek.key).into())
            .decrypt(
                XNonce::from_slice(&wrap_nonce),
                Payload {
                    msg: &b64("wrapped_key", &sealed.wrapped_key)?,
                    aad: &wrap_aad,
                },
            )
            .map_err(|_| not_this())?;
        let data_key: [u8; 32] = data_key.try_into().map_err(|_| not_this())?;
        let plain = XChaCha20Poly1305::new((&data_key).into())
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &b64("ciphertext", &sealed.ciphertext)?,
                    aad: &aad,
                },
            )
            .map_err(|_| not_this())?;
        serde_json::from_slice(&plain).map_err(|e| SealError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(p: &'a str) -> Binding<'a> {
        Binding {
            election_id: "qingshan-2021",
            candidate_id: "c-01",
            petition_id: p,
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_record_and_key() {
        let dir = tempfile::tempdir().expect("dir");
        let ring = Keyring::open(dir.path().join("keys")).expect("ring");
        let secret = Secret {
            identity: "李某".into(),
            contact: Some("138".into()),
        };
        let sealed = ring.seal(&binding("p-1"), &secret).expect("seal");
        assert!(!sealed.ciphertext.contains("李某"));
        assert_eq!(
            ring.open_sealed(&binding("p-1"), &sealed).expect("open"),
            secret
        );
        // Moved to another petition: refused, not decrypted.
        let moved = ring.open_sealed(&binding("p-2"), &sealed).unwrap_err();
        assert!(matches!(moved, SealError::NotThisRecord { .. }), "{moved}");
        // One changed ciphertext byte: refused.
        let mut bad = sealed.clone();
        let mut ct = B64.decode(&bad.ciphertext).expect("b64");
        ct[0] ^= 1;
        bad.ciphertext = B64.encode(ct);
        assert!(ring.open_sealed(&binding("p-1"), &bad).is_err());
        // Shredded: the message says so.
        assert!(ring.shred("qingshan-2021").expect("shred"));
        let gone = ring.open_sealed(&binding("p-1"), &sealed).unwrap_err();
        assert!(matches!(gone, SealError::KeyGone { .. }), "{gone}");
        assert!(gone.to_string().contains("destroyed"), "{gone}");
    }
}
