//! The log's side of c2sp.org/tlog-witness: send each new checkpoint, with
//! a consistency proof from what the witness last cosigned, to every
//! configured witness, and keep the cosignatures that verify.

use jishi_ledger::tree::ProofStore;
use jishi_ledger::{Note, NoteSignature, VerifierKey};

use crate::request::AddCheckpoint;
use crate::service::SIZE_CONTENT_TYPE;

/// A witness the log pushes to: its submission prefix and its public key.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// The submission prefix, e.g. `http://127.0.0.1:7001` (the request goes
    /// to `<url>/add-checkpoint`).
    pub url: String,
    pub key: VerifierKey,
}

impl std::str::FromStr for WitnessEndpoint {
    type Err = String;

    /// `URL=VKEY` (the vkey text, or `@FILE` holding it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (url, key) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: a witness is URL=VKEY (or URL=@FILE)"))?;
        let text = match key.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("reading the witness key {path}: {e}"))?,
            None => key.to_string(),
        };
        let key: VerifierKey = text
            .trim()
            .parse()
            .map_err(|e| format!("the witness key of {url}: {e}"))?;
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!(
                "{url:?}: a witness URL starts with http:// or https://"
            ));
        }
        Ok(WitnessEndpoint {
            url: url.trim_end_matches('/').to_string(),
            key,
        })
    }
}

/// What the witnesses answered.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The note with every verified cosignature added.
    pub note: Note,
    /// The witnesses (by key name) that cosigned.
    pub cosigned: Vec<String>,
    /// The witnesses that did not, and why.
    pub refused: Vec<(String, String)>,
}

/// Sends `note` (the log's signed checkpoint of `size`) to every witness
/// and adds the cosignatures that verify under the witness's key. A witness
/// that answers 409 with the size it holds is asked again once, with a proof
/// from that size: the log does not need to remember what each witness saw.
pub async fn gather_cosignatures(
    store: &dyn ProofStore,
    note: &Note,
    size: u64,
    witnesses: &[WitnessEndpoint],
) -> Gathered {
    let http = reqwest::Client::new();
    let mut out = note.clone();
    let mut cosigned = Vec::new();
    let mut refused = Vec::new();
    for w in witnesses {
        match ask(&http, store, note, size, w).await {
            Ok(sig) => {
                let mut one = note.clone();
                let checked = one
                    .push_signature(sig.clone())
                    .and_then(|()| one.verify(std::slice::from_ref(&w.key)));
                match checked {
                    Ok(v) if v.is_signed_by(&w.key) => match out.push_signature(sig) {
                        Ok(()) => cosigned.push(w.key.name().to_string()),
                        Err(e) => refused.push((w.key.name().to_string(), e.to_string())),
                    },
                    Ok(_) => refused.push((
                        w.key.name().to_string(),
                        "its answer holds no line of its key".into(),
                    )),
                    Err(e) => refused.push((
                        w.key.name().to_string(),
                        format!("its cosignature does not verify: {e}"),
                    )),
                }
            }
            Err(e) => refused.push((w.key.name().to_string(), e)),
        }
    }
    Gathered {
        note: out,
        cosigned,
        refused,
    }
}

/// One witness: the request, a retry from the size it holds, its line.
async fn ask(
    http: &reqwest::Client,
    store: &dyn ProofStore,
    note: &Note,
    size: u64,
    w: &WitnessEndpoint,
) -> Result<NoteSignature, String> {
    let mut old = 0;
    for attempt in 0..2 {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            store
                .consistency_proof(old, size)
                .await
                .map_err(|e| format!("a consistency proof from size {old}: {e}"))?
                .path
        };
        let body = AddCheckpoint {
            old,
            proof,
            note: note.to_string(),
        }
        .encode();
        let resp = http
            .post(format!("{}/add-checkpoint", w.url))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", w.url))?;
        let status = resp.status().as_u16();
        let is_size = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(SIZE_CONTENT_TYPE));
        let text = resp.text().await.map_err(|e| format!("{}: {e}", w.url))?;
        match status {
            200 => {
                let line = text
                    .lines()
                    .find_map(|l| {
                        NoteSignature::parse_line(l, 1)
                            .ok()
                            .filter(|s| s.name == w.key.name() && s.key_id == w.key.key_id())
                    })
                    .ok_or_else(|| {
                        "the witness answered 200 without its cosignature".to_string()
                    })?;
                return Ok(line);
            }
            409 if is_size && attempt == 0 => {
                let held: u64 = text
                    .trim_end_matches('\n')
                    .parse()
                    .map_err(|_| format!("409 with a size that is not a number: {text:?}"))?;
                if held > size {
                    return Err(format!(
                        "the witness holds a checkpoint of size {held}, larger than this one \
                         ({size}): the log was rolled back, or another history was cosigned"
                    ));
                }
                old = held;
            }
            _ => return Err(format!("{status}: {}", text.trim_end())),
        }
    }
    Err("the witness refused twice".into())
}
