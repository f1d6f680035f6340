//! The mirror tests' client side, written from the C2SP texts alone
//! (tlog-mirror, tlog-witness, tlog-cosignature, and the Merkle Tree
//! Certificates draft's subtree consistency proofs), with `sha2`,
//! `ed25519-dalek` and raw HTTP: none of jishi's proof or note code.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Verifier as _;
use sha2::Digest as _;

pub mod fixture;

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A `jishi mirror` process, killed when dropped.
pub struct MirrorProcess {
    pub child: Child,
    pub url: String,
}

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MirrorProcess {
    /// Starts a mirror on `listen` (port 0 for any); its first line on
    /// standard output names the address.
    pub fn start(key: &Path, logs: &[&Path], state: &Path, listen: &str) -> MirrorProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jishi"));
        cmd.args([
            "mirror",
            "--key",
            s(key),
            "--state",
            s(state),
            "--listen",
            listen,
        ]);
        for l in logs {
            cmd.args(["--log", s(l)]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jishi mirror");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the mirror's first line");
        let url = line
            .trim()
            .rsplit_once(" listening on ")
            .map(|(_, u)| u.to_string())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        MirrorProcess { child, url }
    }

    /// Starts a mirror on any loopback port with these arguments.
    pub fn start_with(key: &Path, args: &[&str], state: &Path) -> MirrorProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jishi"));
        cmd.args([
            "mirror",
            "--key",
            s(key),
            "--state",
            s(state),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(args);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jishi mirror");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the mirror's first line");
        let url = line
            .trim()
            .rsplit_once(" listening on ")
            .map(|(_, u)| u.to_string())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        MirrorProcess { child, url }
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection: status, headers, body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .expect("send");
    s.write_all(body).expect("send body");
    read_response(&mut s)
}

pub fn read_response(s: &mut std::net::TcpStream) -> (u16, String, Vec<u8>) {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = b.windows(2).position(|w| w == b"\r\n").expect("chunk size");
        let n = usize::from_str_radix(std::str::from_utf8(&b[..line]).expect("hex"), 16)
            .expect("chunk size");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[line + 2..line + 2 + n]);
        b = &b[line + 2 + n + 2..];
    }
}

pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 9162: a leaf is SHA-256(0x00 ‖ entry).
pub fn leaf(entry: &[u8]) -> [u8; 32] {
    sha256(&[&[0], entry])
}

/// RFC 9162 §2.1.1: MTH of leaf hashes, split at the largest power of two
/// below n.
pub fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            sha256(&[&[1], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// The draft's SUBTREE_SUBPROOF(start, end, D_n, b), on the leaves D_n.
fn subtree_subproof(start: usize, end: usize, d: &[[u8; 32]], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if start == 0 && end == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if end <= k {
        let mut p = subtree_subproof(start, end, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else if k <= start {
        let mut p = subtree_subproof(start - k, end - k, &d[k..], b);
        p.push(mth(&d[..k]));
        p
    } else {
        let mut p = subtree_subproof(0, end - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBTREE_PROOF(start, end, D_n).
pub fn subtree_proof(start: usize, end: usize, d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if start == end {
        vec![]
    } else {
        subtree_subproof(start, end, d, true)
    }
}

/// The `add-checkpoint` body of tlog-witness: `old N`, proof lines, an
/// empty line, the note.
pub fn add_checkpoint_body(old: u64, proof: &[[u8; 32]], note: &str) -> Vec<u8> {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&B64.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body.into_bytes()
}

/// The `add-entries` header: u16 origin size, origin, u64 start, u64 end,
/// u16 ticket size, ticket.
pub fn add_entries_header(origin: &str, start: u64, end: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(origin.len() as u16).to_be_bytes());
    b.extend_from_slice(origin.as_bytes());
    b.extend_from_slice(&start.to_be_bytes());
    b.extend_from_slice(&end.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b
}

/// The canonical packages of `[start, end)`, each as bytes: the entries
/// with u16 lengths, a count byte, the subtree consistency proof of
/// `[rounded_start + 256·i, end_i)` against the tree of size `end`.
pub fn packages(entries: &[[u8; 32]], start: u64, end: u64) -> Vec<Vec<u8>> {
    let leaves: Vec<[u8; 32]> = entries[..end as usize].iter().map(|e| leaf(e)).collect();
    let rounded = start - start % 256;
    let mut out = Vec::new();
    let mut i = 0;
    while rounded + i * 256 < end {
        let a = start.max(rounded + i * 256);
        let b = end.min(rounded + (i + 1) * 256);
        let mut p = Vec::new();
        for e in &entries[a as usize..b as usize] {
            p.extend_from_slice(&32u16.to_be_bytes());
            p.extend_from_slice(e);
        }
        let proof = subtree_proof((rounded + i * 256) as usize, b as usize, &leaves);
        p.push(proof.len() as u8);
        for h in &proof {
            p.extend_from_slice(h);
        }
        out.push(p);
        i += 1;
    }
    out
}

/// Checks a `cosignature/v1` line from c2sp.org/tlog-cosignature: key ID
/// SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4], then an 8-byte time, then an
/// Ed25519 signature of `cosignature/v1\ntime <t>\n` ‖ the note's text.
pub fn check_cosignature(line: &str, name: &str, public: &[u8; 32], text: &str) -> u64 {
    let rest = line
        .trim_end_matches('\n')
        .strip_prefix("\u{2014} ")
        .unwrap_or_else(|| panic!("not a signature line: {line:?}"));
    let (who, b64) = rest.split_once(' ').expect("name and signature");
    assert_eq!(who, name);
    let raw = B64.decode(b64).expect("base64");
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(
        &raw[..4],
        &sha256(&[name.as_bytes(), &[0x0A, 0x04], public])[..4]
    );
    let time = u64::from_be_bytes(raw[4..12].try_into().expect("8 bytes"));
    let message = format!("cosignature/v1\ntime {time}\n{text}");
    let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).expect("signature");
    ed25519_dalek::VerifyingKey::from_bytes(public)
        .expect("public key")
        .verify(message.as_bytes(), &sig)
        .expect("the mirror's cosignature verifies");
    time
}

/// The text of a note: up to the blank line before the signatures.
pub fn note_text(note: &str) -> &str {
    let end = note.rfind("\n\n").expect("a signed note") + 1;
    &note[..end]
}

/// The lowercase hex SHA-256 of the origin: the log's path on the mirror.
pub fn origin_path(origin: &str) -> String {
    sha256(&[origin.as_bytes()])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The three lines of `text/x.tlog.mirror-info`.
pub fn mirror_info(body: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(body);
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 4, "three lines and a final newline: {text:?}");
    (
        lines[0].parse().expect("pending size"),
        lines[1].parse().expect("next entry"),
    )
}

pub fn state_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
