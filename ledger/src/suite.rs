//! The two signature suites jishi signs with: Ed25519 (the default) and SM2
//! with SM3, the national algorithms that systems assessed under GB/T 39786
//! (密评) are expected to use (D69).
//!
//! Both are used the same way everywhere a key signs: checkpoint notes,
//! witness cosignatures and the attestation of every commit group. A key is
//! named by its *type identifier* (part of its key id and of its encoded
//! form, as c2sp.org/signed-note has it), so a verifier that knows only
//! Ed25519 sees an SM2 key's lines as lines of an unknown key and ignores
//! them.
//!
//! All of the cryptography is RustCrypto's (`ed25519-dalek`, `sm2`, which
//! uses `sm3`); this module only fixes encodings.

use ed25519_dalek::{Signer as _, Verifier as _};
use sm2::elliptic_curve::sec1::ToEncodedPoint as _;

/// The SM2 distinguishing identifier (ID_A in GB/T 32918.2), the default of
/// GM/T 0009: every jishi SM2 signature uses it.
pub const SM2_DISTID: &str = "1234567812345678";

/// The type identifier of SM2-with-SM3 keys: `0xff` (signed-note's "type
/// without an assigned byte"), then an ASCII name unlikely to collide.
pub const SM2_TYPE: &[u8] = b"\xffjishi-sm2-sm3";

/// The type identifier of Ed25519 keys (signed-note's assigned byte).
pub const ED25519_TYPE: &[u8] = &[0x01];

/// The type identifier of timestamped Ed25519 cosignatures
/// (c2sp.org/tlog-cosignature, `cosignature/v1`).
pub const COSIGNATURE_TYPE: &[u8] = &[0x04];

/// The header line of the message a `cosignature/v1` signs (its domain
/// separation from plain note signatures by the same key).
const COSIGNATURE_HEADER: &[u8] = b"cosignature/v1\n";

/// The message a `cosignature/v1` with timestamp `time` signs over a note
/// text: `cosignature/v1\ntime <time>\n` followed by the text.
pub fn cosignature_message(time: u64, text: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(COSIGNATURE_HEADER.len() + 26 + text.len());
    m.extend_from_slice(COSIGNATURE_HEADER);
    m.extend_from_slice(format!("time {time}\n").as_bytes());
    m.extend_from_slice(text);
    m
}

/// A signature algorithm, with its fixed encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    /// Ed25519 (RFC 8032, pure): 32-byte public keys and seeds, 64-byte
    /// signatures.
    Ed25519,
    /// SM2 signatures (GB/T 32918.2) over SM3, with [`SM2_DISTID`]: 65-byte
    /// uncompressed SEC 1 public keys (`04 || x || y`), 32-byte secret
    /// scalars, 64-byte signatures `r || s` (big-endian, 32 bytes each).
    Sm2Sm3,
    /// A witness's timestamped Ed25519 cosignature, c2sp.org/tlog-cosignature
    /// `cosignature/v1` (type `0x04`): an Ed25519 key whose signature is the
    /// 8-byte big-endian POSIX time of signing, then the Ed25519 signature of
    /// [`cosignature_message`]. Only witnesses sign with it (D74).
    Cosignature,
}

impl Suite {
    pub const ALL: [Suite; 3] = [Suite::Ed25519, Suite::Sm2Sm3, Suite::Cosignature];

    /// The suites a recording key or a log key may have: a cosignature key
    /// signs only as a witness.
    pub const SIGNING: [Suite; 2] = [Suite::Ed25519, Suite::Sm2Sm3];

    /// The bytes that name the suite in key ids and encoded keys.
    pub fn type_id(self) -> &'static [u8] {
        match self {
            Suite::Ed25519 => ED25519_TYPE,
            Suite::Sm2Sm3 => SM2_TYPE,
            Suite::Cosignature => COSIGNATURE_TYPE,
        }
    }

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Ed25519 => "ed25519",
            Suite::Sm2Sm3 => "sm2-sm3",
            Suite::Cosignature => "cosignature-v1",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    fn public_len(self) -> usize {
        match self {
            Suite::Ed25519 | Suite::Cosignature => 32,
            Suite::Sm2Sm3 => 65,
        }
    }

    /// Splits encoded key material (`type id || key`) into its suite and the
    /// key's bytes, if the type is known and the length is the suite's.
    pub fn split_public(material: &[u8]) -> Option<(Suite, &[u8])> {
        Suite::split(material, |s| s.public_len())
    }

    /// As [`Suite::split_public`], for secret keys (32 bytes in both suites).
    pub fn split_secret(material: &[u8]) -> Option<(Suite, &[u8])> {
        Suite::split(material, |_| 32)
    }

    fn split(material: &[u8], len: impl Fn(Suite) -> usize) -> Option<(Suite, &[u8])> {
        Suite::ALL.into_iter().find_map(|s| {
            let key = material.strip_prefix(s.type_id())?;
            (key.len() == len(s)).then_some((s, key))
        })
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A public key of any suite.
#[derive(Clone)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    Sm2(Box<sm2::dsa::VerifyingKey>),
    Cosignature(ed25519_dalek::VerifyingKey),
}

/// Keys are equal when their suites and encodings are.
impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.suite() == other.suite() && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// The key of `suite` with these bytes, if they are a valid key.
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Option<PublicKey> {
        match suite {
            Suite::Ed25519 | Suite::Cosignature => {
                let b: [u8; 32] = bytes.try_into().ok()?;
                let k = ed25519_dalek::VerifyingKey::from_bytes(&b).ok()?;
                Some(if suite == Suite::Ed25519 {
                    PublicKey::Ed25519(k)
                } else {
                    PublicKey::Cosignature(k)
                })
            }
            Suite::Sm2Sm3 => {
                // Only the uncompressed form: one encoding per key.
                if bytes.len() != 65 || bytes[0] != 0x04 {
                    return None;
                }
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, bytes)
                    .ok()
                    .map(|k| PublicKey::Sm2(Box::new(k)))
            }
        }
    }

    pub fn suite(&self) -> Suite {
        match self {
            PublicKey::Ed25519(_) => Suite::Ed25519,
            PublicKey::Sm2(_) => Suite::Sm2Sm3,
            PublicKey::Cosignature(_) => Suite::Cosignature,
        }
    }

    /// The key's bytes in its suite's encoding (without the type id).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Ed25519(k) | PublicKey::Cosignature(k) => k.to_bytes().to_vec(),
            PublicKey::Sm2(k) => k.as_affine().to_encoded_point(false).as_bytes().to_vec(),
        }
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .map(|s| k.verify(message, &s).is_ok())
                .unwrap_or(false),
            PublicKey::Sm2(k) => sm2::dsa::Signature::from_slice(signature)
                .map(|s| k.verify(message, &s).is_ok())
                .unwrap_or(false),
            PublicKey::Cosignature(k) => {
                let Some((time, sig)) = cosignature_parts(signature) else {
                    return false;
                };
                ed25519_dalek::Signature::from_slice(sig)
                    .map(|s| k.verify(&cosignature_message(time, message), &s).is_ok())
                    .unwrap_or(false)
            }
        }
    }
}

/// Splits a `cosignature/v1` signature into its time and its Ed25519
/// signature; `None` unless it is 8 + 64 bytes with a time of at most
/// 2⁶³ − 1 (the spec's bound).
pub fn cosignature_parts(signature: &[u8]) -> Option<(u64, &[u8])> {
    if signature.len() != 72 {
        return None;
    }
    let (time, sig) = signature.split_at(8);
    let time = u64::from_be_bytes(time.try_into().ok()?);
    (time <= i64::MAX as u64).then_some((time, sig))
}

/// A private key of any suite. Never printed (no `Debug` of the secret).
#[derive(Clone)]
pub enum SecretKey {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Sm2(Box<sm2::dsa::SigningKey>),
    Cosignature(Box<ed25519_dalek::SigningKey>),
}

impl SecretKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate(suite: Suite) -> SecretKey {
        match suite {
            Suite::Ed25519 => SecretKey::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(
                &mut rand_core::OsRng,
            ))),
            Suite::Cosignature => SecretKey::Cosignature(Box::new(
                ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
            )),
            Suite::Sm2Sm3 => loop {
                let mut bytes = [0u8; 32];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
                // Out-of-range scalars (zero, or ≥ the order) are refused:
                // draw again (it happens with probability about 2⁻³²).
                if let Some(k) = SecretKey::from_bytes(Suite::Sm2Sm3, &bytes) {
                    break k;
                }
            },
        }
    }

    /// The key of `suite` with these 32 bytes (an Ed25519 seed, or an SM2
    /// secret scalar, big-endian), if valid.
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Option<SecretKey> {
        let b: [u8; 32] = bytes.try_into().ok()?;
        match suite {
            Suite::Ed25519 => Some(SecretKey::Ed25519(Box::new(
                ed25519_dalek::SigningKey::from_bytes(&b),
            ))),
            Suite::Cosignature => Some(SecretKey::Cosignature(Box::new(
                ed25519_dalek::SigningKey::from_bytes(&b),
            ))),
            Suite::Sm2Sm3 => sm2::dsa::SigningKey::from_slice(SM2_DISTID, &b)
                .ok()
                .map(|k| SecretKey::Sm2(Box::new(k))),
        }
    }

    pub fn suite(&self) -> Suite {
        match self {
            SecretKey::Ed25519(_) => Suite::Ed25519,
            SecretKey::Sm2(_) => Suite::Sm2Sm3,
            SecretKey::Cosignature(_) => Suite::Cosignature,
        }
    }

    /// The 32 secret bytes. Secret: store them as such.
    pub fn to_bytes(&self) -> [u8; 32] {
        match self {
            SecretKey::Ed25519(k) | SecretKey::Cosignature(k) => k.to_bytes(),
            SecretKey::Sm2(k) => k.to_bytes().into(),
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            SecretKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            SecretKey::Sm2(k) => PublicKey::Sm2(Box::new(k.verifying_key().clone())),
            SecretKey::Cosignature(k) => PublicKey::Cosignature(k.verifying_key()),
        }
    }

    /// This key's signature of `message`. Deterministic in both suites
    /// (Ed25519 by definition; SM2 with RFC 6979 nonces over SM3), so the
    /// test vectors are fixed; a verifier must not rely on that.
    ///
    /// A cosignature key signs as of now (the system clock, in whole
    /// seconds); [`SecretKey::sign_at`] gives the time.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.sign_at(message, now)
    }

    /// As [`SecretKey::sign`], with the time a cosignature states (ignored
    /// by the other suites, whose signatures state no time).
    pub fn sign_at(&self, message: &[u8], time: u64) -> Vec<u8> {
        match self {
            SecretKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            SecretKey::Sm2(k) => {
                let s: sm2::dsa::Signature = k.sign(message);
                s.to_bytes().to_vec()
            }
            SecretKey::Cosignature(k) => {
                let time = time.min(i64::MAX as u64);
                let mut out = time.to_be_bytes().to_vec();
                out.extend_from_slice(&k.sign(&cosignature_message(time, message)).to_bytes());
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_signs_and_verifies_and_refuses_a_changed_message() {
        for suite in Suite::ALL {
            let k = SecretKey::generate(suite);
            let sig = k.sign_at(b"jishi", 1_679_315_147);
            let len = if suite == Suite::Cosignature { 72 } else { 64 };
            assert_eq!(sig.len(), len, "{suite}");
            assert!(k.public().verifies(b"jishi", &sig), "{suite}");
            assert!(!k.public().verifies(b"jishI", &sig), "{suite}");
            let again = SecretKey::from_bytes(suite, &k.to_bytes()).expect("round trip");
            assert_eq!(
                again.sign_at(b"jishi", 1_679_315_147),
                sig,
                "{suite} is deterministic"
            );
            let public = PublicKey::from_bytes(suite, &k.public().to_bytes()).expect("public");
            assert!(public == k.public());
        }
    }

    #[test]
    fn encoded_material_names_its_suite() {
        let sm2 = SecretKey::generate(Suite::Sm2Sm3).public();
        let mut material = SM2_TYPE.to_vec();
        material.extend(sm2.to_bytes());
        assert_eq!(
            Suite::split_public(&material).map(|s| s.0),
            Some(Suite::Sm2Sm3)
        );
        material.pop();
        assert_eq!(Suite::split_public(&material), None, "a short key");
        let mut ed = vec![0x01];
        ed.extend([7u8; 32]);
        assert_eq!(Suite::split_public(&ed).map(|s| s.0), Some(Suite::Ed25519));
        assert_eq!(Suite::split_public(&[0x02; 33]), None, "an unknown type");
        let mut cosig = vec![0x04];
        cosig.extend([7u8; 32]);
        assert_eq!(
            Suite::split_public(&cosig).map(|s| s.0),
            Some(Suite::Cosignature)
        );
    }

    #[test]
    fn a_cosignature_states_its_time_and_signs_the_spec_message() {
        let k = SecretKey::generate(Suite::Cosignature);
        let body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let sig = k.sign_at(body, 1_679_315_147);
        let (time, raw) = cosignature_parts(&sig).expect("framing");
        assert_eq!(time, 1_679_315_147);
        // The message of the spec's example, byte for byte.
        let mut message = b"cosignature/v1\ntime 1679315147\n".to_vec();
        message.extend_from_slice(body);
        assert_eq!(cosignature_message(time, body), message);
        let SecretKey::Cosignature(ed) = &k else {
            unreachable!("generated as a cosignature key")
        };
        let plain = ed25519_dalek::Signature::from_slice(raw).expect("64 bytes");
        assert!(ed.verifying_key().verify(&message, &plain).is_ok());
        assert!(k.public().verifies(body, &sig));
        // Another time in the signature bytes: the message changes with it.
        let mut moved = sig.clone();
        moved[7] ^= 1;
        assert!(!k.public().verifies(body, &moved));
        // A time above 2^63 - 1 is refused outright.
        let mut huge = sig.clone();
        huge[0] = 0x80;
        assert!(cosignature_parts(&huge).is_none());
        // The same key as a plain Ed25519 signer gives another key id type.
        assert_ne!(Suite::Cosignature.type_id(), Suite::Ed25519.type_id());
    }
}
