//! The `add-checkpoint` request body of c2sp.org/tlog-witness: an old size
//! line, zero to 63 consistency proof lines, an empty line, the checkpoint.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use jishi_ledger::Digest;

/// "The client MUST NOT send more than 63 consistency proof lines."
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Digest>,
    /// The signed checkpoint note, verbatim.
    pub note: String,
}

/// Why a body is not an `add-checkpoint` request (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("the first line must be `old <size>` in decimal without leading zeros, got {0:?}")]
    OldLine(String),
    #[error("proof line {0} is not the base64 of a 32-byte hash")]
    ProofLine(usize),
    #[error("the request has more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    #[error("the proof lines must be followed by an empty line and the checkpoint")]
    NoCheckpoint,
}

impl AddCheckpoint {
    /// Parses a request body exactly as the spec lays it out.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, RequestError> {
        let text = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        let (first, mut rest) = text.split_once('\n').ok_or(RequestError::NoCheckpoint)?;
        let old = first
            .strip_prefix("old ")
            .filter(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && (n.len() == 1 || !n.starts_with('0'))
            })
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| RequestError::OldLine(first.chars().take(40).collect()))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::NoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let hash = B64
                .decode(line)
                .ok()
                .and_then(|b| Digest::from_slice(&b))
                .ok_or(RequestError::ProofLine(proof.len() + 2))?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(RequestError::NoCheckpoint);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: rest.to_string(),
        })
    }

    /// The request body.
    pub fn encode(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for h in &self.proof {
            out.push_str(&B64.encode(h.0));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_parses() {
        let body = "old 20852014\n\
            PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
            jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
            5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
            /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
            \n\
            example.com/behind-the-sofa\n\
            20852163\n\
            CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
            \n\
            \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        let r = AddCheckpoint::parse(body.as_bytes()).expect("parses");
        assert_eq!(r.old, 20852014);
        assert_eq!(r.proof.len(), 4);
        assert!(r
            .note
            .starts_with("example.com/behind-the-sofa\n20852163\n"));
        assert_eq!(r.encode(), body);
    }

    #[test]
    fn malformed_requests_are_refused_naming_the_line() {
        for (body, want) in [
            ("old 01\n\nx\n", "old"),
            ("old +1\n\nx\n", "old"),
            ("new 1\n\nx\n", "old"),
            ("old 1\nAAAA\n\nx\n", "proof"),
            ("old 1\n", "checkpoint"),
            ("old 1\n\n", "checkpoint"),
        ] {
            let e = AddCheckpoint::parse(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(want), "{body:?}: {e}");
        }
        let mut many = "old 1\n".to_string();
        for _ in 0..64 {
            many.push_str("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        }
        many.push_str("\nx\n");
        assert_eq!(
            AddCheckpoint::parse(many.as_bytes()),
            Err(RequestError::TooManyProofLines)
        );
    }
}
