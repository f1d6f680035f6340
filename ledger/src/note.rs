//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 or SM2 keys.
//!
//! A checkpoint is published as a signed note so that anyone holding the
//! log's public key, and any witnesses' keys, can check it offline with tools
//! that already speak this format. The format is:
//!
//! ```text
//! <text, ending in a newline>
//! <blank line>
//! — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>
//! ...one line per signature
//! ```
//!
//! The signature covers the text exactly, final newline included. The key id
//! is `SHA-256(name || 0x0A || 0x01 || public key)[:4]` (0x01 = Ed25519), so
//! a verifier can pick the key without trying each one. Keys travel as text:
//! `<name>+<8 hex id>+<base64(0x01 || public key)>` (a "vkey") and
//! `PRIVATE+KEY+<name>+<8 hex id>+<base64(0x01 || 32-byte seed)>`.
//!
//! SM2-with-SM3 keys (D69) are written the same way with their own type
//! identifier in place of `0x01` ([`crate::suite::SM2_TYPE`]); their lines
//! carry 64-byte SM2 signatures, and a verifier that knows only Ed25519
//! ignores them, as signed-note asks of unknown keys.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::suite::{PublicKey, SecretKey, Suite};

/// Signature type byte of plain Ed25519 note signatures (signed-note §
/// "Signature types"); part of the key id and of the encoded keys.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// The most signature lines a note may carry. The spec asks verifiers to bound
/// the note and to accept at least 16; a bound keeps a hostile note from
/// making a verifier check thousands of signatures.
pub const MAX_SIGNATURES: usize = 100;

/// Prefix of every signature line: em dash U+2014, then a space.
const SIG_PREFIX: &str = "\u{2014} ";
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// `SHA-256(name || 0x0A || type id || public_key)[:4]` as a big-endian
/// u32, the key id recommended by c2sp.org/signed-note.
pub fn key_id(name: &str, type_id: &[u8], public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n']);
    h.update(type_id);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Why a key name or encoded key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "a key name must be non-empty and contain no spaces, '+' or control characters: {0:?}"
    )]
    BadName(String),
    #[error("a verifier key is <name>+<8 hex digit id>+<base64 key>; {0:?} is not")]
    BadVerifierFormat(String),
    #[error(
        "a private key is PRIVATE+KEY+<name>+<8 hex digit id>+<base64 key>; the given text is not"
    )]
    BadPrivateFormat,
    #[error("the key id of key {name:?} must be 8 hex digits, got {got:?}")]
    BadKeyIdText { name: String, got: String },
    #[error("the key material of key {name:?} is not standard padded base64")]
    BadBase64 { name: String },
    #[error(
        "key {name:?} has signature type 0x{got:02x}; jishi knows Ed25519 (0x01), \
         cosignature/v1 (0x04) and SM2-SM3 (0xff followed by \"jishi-sm2-sm3\")"
    )]
    UnsupportedType { name: String, got: u8 },
    #[error(
        "key {name:?} holds {got} bytes of key material after its type; Ed25519 needs 32, \
         SM2-SM3 65 (public) or 32 (private)"
    )]
    BadKeyLength { name: String, got: usize },
    #[error("key {name:?} is not a valid {suite} key")]
    InvalidPublicKey { name: String, suite: Suite },
    #[error(
        "key {name:?} is a {suite} key, which only a witness signs with; a recording key \
         or a log's key is ed25519 or sm2-sm3"
    )]
    WitnessOnly { name: String, suite: Suite },
    #[error("key {name:?} states key id {stated:08x} but its name and key give {computed:08x}")]
    KeyIdMismatch {
        name: String,
        stated: u32,
        computed: u32,
    },
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(KeyError::BadName(name.chars().take(100).collect()));
    }
    Ok(())
}

/// Splits `<name>+<hex id>+<base64>`. Only the first two `+` separate: the
/// name and id cannot contain one, but base64 can.
fn split_key_text(s: &str) -> Option<(&str, &str, &str)> {
    let mut parts = s.splitn(3, '+');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// Splits encoded key material into its suite and key bytes (public or
/// secret lengths: [`Suite::split_public`], [`Suite::split_secret`]).
type SplitKey = fn(&[u8]) -> Option<(Suite, &[u8])>;

/// Decodes `<hex id>` and `<base64(type id || key)>`: the stated id, the
/// suite and the key's bytes. `split` picks public or secret key lengths.
fn decode_key_fields(
    name: &str,
    id: &str,
    key: &str,
    split: SplitKey,
) -> Result<(u32, Suite, Vec<u8>), KeyError> {
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::BadKeyIdText {
            name: name.to_string(),
            got: id.chars().take(20).collect(),
        });
    }
    let stated = u32::from_str_radix(id, 16).map_err(|_| KeyError::BadKeyIdText {
        name: name.to_string(),
        got: id.to_string(),
    })?;
    let bytes = B64.decode(key).map_err(|_| KeyError::BadBase64 {
        name: name.to_string(),
    })?;
    if let Some((suite, material)) = split(&bytes) {
        return Ok((stated, suite, material.to_vec()));
    }
    let known = Suite::ALL
        .into_iter()
        .find(|s| bytes.starts_with(s.type_id()));
    Err(match (bytes.first(), known) {
        (None, _) => KeyError::BadKeyLength {
            name: name.to_string(),
            got: 0,
        },
        (Some(_), Some(s)) => KeyError::BadKeyLength {
            name: name.to_string(),
            got: bytes.len() - s.type_id().len(),
        },
        (Some(&ty), None) => KeyError::UnsupportedType {
            name: name.to_string(),
            got: ty,
        },
    })
}

/// A public key that checks note signatures, with its name and key id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key: PublicKey,
}

impl VerifierKey {
    /// A verifier for an Ed25519 public key known under `name`.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<VerifierKey, KeyError> {
        VerifierKey::of_bytes(name, Suite::Ed25519, public_key)
    }

    /// A verifier for a public key of `suite` known under `name`.
    pub fn of_bytes(name: &str, suite: Suite, public_key: &[u8]) -> Result<VerifierKey, KeyError> {
        check_name(name)?;
        let key =
            PublicKey::from_bytes(suite, public_key).ok_or_else(|| KeyError::InvalidPublicKey {
                name: name.to_string(),
                suite,
            })?;
        Ok(VerifierKey::of(name, key))
    }

    fn of(name: &str, key: PublicKey) -> VerifierKey {
        VerifierKey {
            name: name.to_string(),
            key_id: key_id(name, key.suite().type_id(), &key.to_bytes()),
            key,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn suite(&self) -> Suite {
        self.key.suite()
    }

    /// The public key's bytes in its suite's encoding.
    pub fn public_key(&self) -> Vec<u8> {
        self.key.to_bytes()
    }

    /// The vkey text `<name>+<hex id>+<base64(type id || public key)>`.
    pub fn to_vkey(&self) -> String {
        let mut material = self.suite().type_id().to_vec();
        material.extend_from_slice(&self.key.to_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(material))
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        self.key.verifies(message, sig)
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    /// Parses a vkey, refusing one whose stated id does not match its name
    /// and key: a mismatch means the text was edited or mis-pasted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_end_matches('\n');
        let (name, id, key) = split_key_text(s)
            .ok_or_else(|| KeyError::BadVerifierFormat(s.chars().take(100).collect()))?;
        let (stated, suite, material) = decode_key_fields(name, id, key, Suite::split_public)?;
        let vk = VerifierKey::of_bytes(name, suite, &material)?;
        if vk.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                name: name.to_string(),
                stated,
                computed: vk.key_id,
            });
        }
        Ok(vk)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({})", self.to_vkey())
    }
}

/// A private key (Ed25519 or SM2) that signs under a name. Its `Debug`
/// never shows the secret, so it cannot leak into logs.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_id: u32,
    key: SecretKey,
}

impl SignerKey {
    /// A fresh random Ed25519 key from the operating system's generator.
    pub fn generate(name: &str) -> Result<SignerKey, KeyError> {
        SignerKey::generate_in(name, Suite::Ed25519)
    }

    /// A fresh random key of `suite`.
    pub fn generate_in(name: &str, suite: Suite) -> Result<SignerKey, KeyError> {
        check_name(name)?;
        Ok(SignerKey::of(name, SecretKey::generate(suite)))
    }

    /// The Ed25519 key with this 32-byte RFC 8032 seed; deterministic, for
    /// tests and for keys held in a secrets manager.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<SignerKey, KeyError> {
        SignerKey::from_secret(name, Suite::Ed25519, seed)
    }

    /// The key of `suite` with these 32 secret bytes (an Ed25519 seed, or an
    /// SM2 secret scalar, big-endian).
    pub fn from_secret(name: &str, suite: Suite, secret: &[u8]) -> Result<SignerKey, KeyError> {
        check_name(name)?;
        let key =
            SecretKey::from_bytes(suite, secret).ok_or_else(|| KeyError::InvalidPublicKey {
                name: name.to_string(),
                suite,
            })?;
        Ok(SignerKey::of(name, key))
    }

    fn of(name: &str, key: SecretKey) -> SignerKey {
        let public = key.public().to_bytes();
        SignerKey {
            name: name.to_string(),
            key_id: key_id(name, key.suite().type_id(), &public),
            key,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn suite(&self) -> Suite {
        self.key.suite()
    }

    /// The matching public key, to hand to verifiers.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.public(),
        }
    }

    /// `PRIVATE+KEY+<name>+<hex id>+<base64(type id || secret)>`. Secret:
    /// store it as such.
    pub fn to_private_text(&self) -> String {
        let mut material = self.suite().type_id().to_vec();
        material.extend_from_slice(&self.key.to_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(material)
        )
    }

    /// This key's signature of `message` (64 bytes in both suites).
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message)
    }

    /// As [`SignerKey::sign_bytes`]; a cosignature key states `time`.
    pub fn sign_bytes_at(&self, message: &[u8], time: u64) -> Vec<u8> {
        self.key.sign_at(message, time)
    }

    /// The signature line for `text`, without checking that `text` is a
    /// well-formed note text (callers go through [`Note`]). `time` is the
    /// time a cosignature states; `None` is now.
    fn sign_raw(&self, text: &str, time: Option<u64>) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: match time {
                Some(t) => self.key.sign_at(text.as_bytes(), t),
                None => self.key.sign(text.as_bytes()),
            },
        }
    }
}

impl FromStr for SignerKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_end_matches('\n');
        let rest = s
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(KeyError::BadPrivateFormat)?;
        let (name, id, key) = split_key_text(rest).ok_or(KeyError::BadPrivateFormat)?;
        let (stated, suite, secret) = decode_key_fields(name, id, key, Suite::split_secret)?;
        let sk = SignerKey::from_secret(name, suite, &secret)?;
        if sk.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                name: name.to_string(),
                stated,
                computed: sk.key_id,
            });
        }
        Ok(sk)
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignerKey({}+{:08x}, seed hidden)",
            self.name, self.key_id
        )
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The raw signature bytes after the key id (64 for Ed25519; other
    /// lengths may come from key types this crate does not know).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line (`— <name> <base64(key id || sig)>`,
    /// without its newline); `line` is its line number, for errors. Used for
    /// a note's lines and for the lines a witness answers with.
    pub fn parse_line(l: &str, line: usize) -> Result<NoteSignature, NoteError> {
        let rest = l
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::BadSignatureLine { line })?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::BadSignatureLine { line })?;
        check_name(name).map_err(|source| NoteError::BadKeyName { line, source })?;
        let bytes = B64.decode(b64).map_err(|_| NoteError::BadSignatureBase64 {
            line,
            name: name.to_string(),
        })?;
        let too_short = || NoteError::SignatureTooShort {
            line,
            name: name.to_string(),
            len: bytes.len(),
        };
        let Some((id, sig)) = bytes.split_first_chunk::<4>() else {
            return Err(too_short());
        };
        if sig.is_empty() {
            return Err(too_short());
        }
        Ok(NoteSignature {
            name: name.to_string(),
            key_id: u32::from_be_bytes(*id),
            signature: sig.to_vec(),
        })
    }

    /// The line as a note carries it, newline included.
    pub fn to_line(&self) -> String {
        let mut out = String::new();
        self.write_line(&mut out);
        out
    }

    fn write_line(&self, out: &mut String) {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        out.push_str(SIG_PREFIX);
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&B64.encode(bytes));
        out.push('\n');
    }
}

/// Why a note could not be parsed, signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("a note must be UTF-8 text")]
    NotUtf8,
    #[error("line {line} of the note holds control character U+{code:04X}; only newlines are allowed (CRLF line endings?)")]
    ControlCharacter { line: usize, code: u32 },
    #[error("a note must end with a newline")]
    MissingFinalNewline,
    #[error("no blank line separates the note text from its signatures")]
    NoSignatureBlock,
    #[error(
        "line {line} must be a signature line: em dash (U+2014), space, key name, space, base64"
    )]
    BadSignatureLine { line: usize },
    #[error("line {line}: the signature of {name:?} is not standard padded base64")]
    BadSignatureBase64 { line: usize, name: String },
    #[error("line {line}: the signature of {name:?} has {len} bytes; it needs a 4-byte key id and a signature")]
    SignatureTooShort {
        line: usize,
        name: String,
        len: usize,
    },
    #[error("line {line}: {source}")]
    BadKeyName {
        line: usize,
        #[source]
        source: KeyError,
    },
    #[error("the note has {count} signatures; at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures { count: usize },
    #[error("note text to sign must be non-empty and end with a newline")]
    TextNotNewlineTerminated,
    #[error("the note already has a signature by {name:?} (key id {key_id:08x})")]
    DuplicateSignature { name: String, key_id: u32 },
    #[error("the signature by known key {name:?} (key id {key_id:08x}) does not verify: the note was altered or the signature forged")]
    InvalidSignature { name: String, key_id: u32 },
    #[error(
        "no signature from a trusted key; the note is signed only by unknown keys {unknown:?}"
    )]
    NoTrustedSignature { unknown: Vec<String> },
}

fn check_characters(s: &str) -> Result<(), NoteError> {
    let mut line = 1;
    for c in s.chars() {
        if c == '\n' {
            line += 1;
        } else if (c as u32) < 0x20 {
            return Err(NoteError::ControlCharacter {
                line,
                code: c as u32,
            });
        }
    }
    Ok(())
}

/// A note text with its signature lines, as parsed or as being built. Holding
/// it proves nothing: only [`Note::verify`] says who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Signs `text` (non-empty, newline-terminated, no control characters
    /// other than newline) and returns the note with one signature.
    pub fn sign(text: &str, signer: &SignerKey) -> Result<Note, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::TextNotNewlineTerminated);
        }
        check_characters(text)?;
        Ok(Note {
            text: text.to_string(),
            signatures: vec![signer.sign_raw(text, None)],
        })
    }

    /// Adds a signature by `signer` over the same text: a cosignature. The
    /// text is not changed, so existing signatures stay valid.
    pub fn add_signature(&mut self, signer: &SignerKey) -> Result<(), NoteError> {
        self.add_signature_with(signer, None)
    }

    /// As [`Note::add_signature`], for a cosignature key stating `time`
    /// (POSIX seconds) rather than now: for test vectors and replays.
    pub fn add_signature_at(&mut self, signer: &SignerKey, time: u64) -> Result<(), NoteError> {
        self.add_signature_with(signer, Some(time))
    }

    /// The same note without the lines of `key` (its name and key id): a
    /// witness asked to cosign a note that already carries its own line
    /// (an earlier cosignature the log passed on) signs it afresh.
    pub fn without_signatures_of(&self, key: &VerifierKey) -> Note {
        Note {
            text: self.text.clone(),
            signatures: self
                .signatures
                .iter()
                .filter(|s| !(s.name == key.name() && s.key_id == key.key_id()))
                .cloned()
                .collect(),
        }
    }

    /// Adds a signature line as it arrived from elsewhere (a witness's
    /// answer), unverified: the caller verifies the note after.
    pub fn push_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        if self
            .signatures
            .iter()
            .any(|s| s.name == sig.name && s.key_id == sig.key_id)
        {
            return Err(NoteError::DuplicateSignature {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                count: self.signatures.len() + 1,
            });
        }
        self.signatures.push(sig);
        Ok(())
    }

    fn add_signature_with(
        &mut self,
        signer: &SignerKey,
        time: Option<u64>,
    ) -> Result<(), NoteError> {
        if self
            .signatures
            .iter()
            .any(|s| s.name == signer.name && s.key_id == signer.key_id)
        {
            return Err(NoteError::DuplicateSignature {
                name: signer.name.clone(),
                key_id: signer.key_id,
            });
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                count: self.signatures.len() + 1,
            });
        }
        self.signatures.push(signer.sign_raw(&self.text, time));
        Ok(())
    }

    /// The signed text, final newline included. Untrusted until verified.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Parses a note strictly per c2sp.org/signed-note: UTF-8, no control
    /// characters but newline, text separated from one or more signature
    /// lines by the *last* blank line.
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        check_characters(note)?;
        if !note.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let text = &note[..split + 1];
        let block = &note[split + 2..];
        let first_sig_line = text.matches('\n').count() + 2;
        let lines: Vec<&str> = block.split_terminator('\n').collect();
        if lines.is_empty() {
            return Err(NoteError::NoSignatureBlock);
        }
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { count: lines.len() });
        }
        let mut signatures = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            signatures.push(NoteSignature::parse_line(l, first_sig_line + i)?);
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// Checks the signatures against trusted `keys` per c2sp.org/signed-note:
    /// a line matches a key only when both name and key id match; lines from
    /// unknown keys are ignored; any matching line that fails to verify
    /// rejects the whole note; at least one must verify.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
        let mut verified: Vec<VerifierKey> = Vec::new();
        let mut unknown = Vec::new();
        for sig in &self.signatures {
            match keys
                .iter()
                .find(|k| k.name == sig.name && k.key_id == sig.key_id)
            {
                None => unknown.push(sig.clone()),
                Some(k) => {
                    if !k.verifies(self.text.as_bytes(), &sig.signature) {
                        return Err(NoteError::InvalidSignature {
                            name: sig.name.clone(),
                            key_id: sig.key_id,
                        });
                    }
                    if !verified.contains(k) {
                        verified.push(k.clone());
                    }
                }
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoTrustedSignature {
                unknown: unknown.into_iter().map(|s| s.name).collect(),
            });
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            verified,
            unknown,
        })
    }
}

impl fmt::Display for Note {
    /// The wire form: text, blank line, signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(self.text.len() + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            s.write_line(&mut out);
        }
        f.write_str(&out)
    }
}

impl FromStr for Note {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Note::parse(s)
    }
}

/// Parses and verifies a note in one step; bytes that are not UTF-8 are
/// refused before anything else.
pub fn open(note: &[u8], keys: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    let s = std::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?;
    Note::parse(s)?.verify(keys)
}

/// A note whose text at least one trusted key signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    text: String,
    verified: Vec<VerifierKey>,
    unknown: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The trusted keys whose signatures verified, in note order.
    pub fn verified_by(&self) -> &[VerifierKey] {
        &self.verified
    }

    /// Whether `key` (same name, id and public key) signed the note, for
    /// policies such as "the log and two witnesses".
    pub fn is_signed_by(&self, key: &VerifierKey) -> bool {
        self.verified.contains(key)
    }

    /// Signature lines from keys not in the trusted set; ignored, listed so
    /// a tool can mention them.
    pub fn unknown_signatures(&self) -> &[NoteSignature] {
        &self.unknown
    }
}
