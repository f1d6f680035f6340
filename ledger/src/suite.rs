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
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::Ed25519, Suite::Sm2Sm3];

    /// The bytes that name the suite in key ids and encoded keys.
    pub fn type_id(self) -> &'static [u8] {
        match self {
            Suite::Ed25519 => ED25519_TYPE,
            Suite::Sm2Sm3 => SM2_TYPE,
        }
    }

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Ed25519 => "ed25519",
            Suite::Sm2Sm3 => "sm2-sm3",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    fn public_len(self) -> usize {
        match self {
            Suite::Ed25519 => 32,
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

/// A public key of either suite.
#[derive(Clone)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    Sm2(Box<sm2::dsa::VerifyingKey>),
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
            Suite::Ed25519 => {
                let b: [u8; 32] = bytes.try_into().ok()?;
                ed25519_dalek::VerifyingKey::from_bytes(&b)
                    .ok()
                    .map(PublicKey::Ed25519)
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
        }
    }

    /// The key's bytes in its suite's encoding (without the type id).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Ed25519(k) => k.to_bytes().to_vec(),
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
        }
    }
}

/// A private key of either suite. Never printed (no `Debug` of the secret).
#[derive(Clone)]
pub enum SecretKey {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Sm2(Box<sm2::dsa::SigningKey>),
}

impl SecretKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate(suite: Suite) -> SecretKey {
        match suite {
            Suite::Ed25519 => SecretKey::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(
                &mut rand_core::OsRng,
            ))),
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
            Suite::Sm2Sm3 => sm2::dsa::SigningKey::from_slice(SM2_DISTID, &b)
                .ok()
                .map(|k| SecretKey::Sm2(Box::new(k))),
        }
    }

    pub fn suite(&self) -> Suite {
        match self {
            SecretKey::Ed25519(_) => Suite::Ed25519,
            SecretKey::Sm2(_) => Suite::Sm2Sm3,
        }
    }

    /// The 32 secret bytes. Secret: store them as such.
    pub fn to_bytes(&self) -> [u8; 32] {
        match self {
            SecretKey::Ed25519(k) => k.to_bytes(),
            SecretKey::Sm2(k) => k.to_bytes().into(),
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            SecretKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            SecretKey::Sm2(k) => PublicKey::Sm2(Box::new(k.verifying_key().clone())),
        }
    }

    /// This key's signature of `message`. Deterministic in both suites
    /// (Ed25519 by definition; SM2 with RFC 6979 nonces over SM3), so the
    /// test vectors are fixed; a verifier must not rely on that.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SecretKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            SecretKey::Sm2(k) => {
                let s: sm2::dsa::Signature = k.sign(message);
                s.to_bytes().to_vec()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_suites_sign_and_verify_and_refuse_a_changed_message() {
        for suite in Suite::ALL {
            let k = SecretKey::generate(suite);
            let sig = k.sign(b"jishi");
            assert_eq!(sig.len(), 64, "{suite}");
            assert!(k.public().verifies(b"jishi", &sig), "{suite}");
            assert!(!k.public().verifies(b"jishI", &sig), "{suite}");
            let again = SecretKey::from_bytes(suite, &k.to_bytes()).expect("round trip");
            assert_eq!(again.sign(b"jishi"), sig, "{suite} is deterministic");
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
    }
}
