//! Trust policies in the C2SP `tlog-policy` form: which logs are trusted,
//! which witnesses (and mirrors: a mirror is a cosigner too), and the
//! quorum of their cosignatures a checkpoint needs (docs/FORMAT-merkle.md
//! §16). One file serves `jishi verify-export --policy`, `jishi checkpoint
//! --policy` (the witnesses to ask, and the quorum to reach) and `jishi
//! mirror --policy` (the logs to mirror).
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>            (exactly one; `none` for no cosignature)
//! ```
//!
//! Names are defined before use, so groups cannot be circular, and each
//! name is a member at most once in the whole file, so that a witness
//! counts towards the quorum in one way only.

use crate::note::VerifierKey;
use crate::Suite;

/// More than a county's policy would ever hold, and few enough that a
/// hostile file cannot make evaluation slow.
const MAX_DEFINITIONS: usize = 256;

/// A log line: the log's key (named after its origin) and its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// A witness line: its name in the policy, its key, its submission prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    pub name: String,
    pub key: VerifierKey,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub logs: Vec<PolicyLog>,
    pub witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None` is `quorum none`.
    quorum: Option<Member>,
}

/// Why a policy file was refused: the line, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy line {line}: {reason}")]
pub struct PolicyError {
    pub line: usize,
    pub reason: String,
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl Policy {
    /// Parses a policy file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let err = |line: usize, reason: String| PolicyError { line, reason };
        // "the allowed octet values are 0x09 (tab), 0x0A (newline),
        // 0x20-0x7E, and 0x80-0xFF."
        let mut line_no = 1;
        for &b in bytes {
            if b == b'\n' {
                line_no += 1;
            } else if b != b'\t' && (b < 0x20 || b == 0x7F) {
                return Err(err(line_no, format!("control character 0x{b:02X}")));
            }
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| err(0, format!("not UTF-8 at byte {}", e.valid_up_to())))?;
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        let mut used: Vec<Member> = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.trim_matches(is_space);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if p.logs.len() + p.witnesses.len() + p.groups.len() >= MAX_DEFINITIONS {
                return Err(err(n, format!("more than {MAX_DEFINITIONS} definitions")));
            }
            let t: Vec<&str> = line.split(is_space).filter(|s| !s.is_empty()).collect();
            match t.as_slice() {
                ["log", vkey, rest @ ..] if rest.len() <= 1 => {
                    let key: VerifierKey = vkey
                        .parse()
                        .map_err(|e| err(n, format!("the log's vkey: {e}")))?;
                    if key.suite() == Suite::Cosignature {
                        return Err(err(
                            n,
                            "a cosignature/v1 key is a witness's, never a log's".into(),
                        ));
                    }
                    if p.logs
                        .iter()
                        .any(|l| l.key.public_key() == key.public_key())
                    {
                        return Err(err(n, "the same log key twice".into()));
                    }
                    p.logs.push(PolicyLog {
                        key,
                        url: rest.first().map(|u| u.to_string()),
                    });
                }
                ["witness", name, vkey, rest @ ..] if rest.len() <= 1 => {
                    p.check_new_name(name).map_err(|r| err(n, r))?;
                    let key: VerifierKey = vkey
                        .parse()
                        .map_err(|e| err(n, format!("the vkey of witness {name}: {e}")))?;
                    if p.witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(err(n, format!("witness {name}: the same key as another")));
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url: rest.first().map(|u| u.to_string()),
                    });
                }
                ["group", name, k, members @ ..] if !members.is_empty() => {
                    p.check_new_name(name).map_err(|r| err(n, r))?;
                    let threshold = match *k {
                        "all" => members.len(),
                        "any" => 1,
                        k => k
                            .parse::<usize>()
                            .ok()
                            .filter(|_| k.bytes().all(|b| b.is_ascii_digit()))
                            .filter(|v| (1..=members.len()).contains(v))
                            .ok_or_else(|| {
                                err(
                                    n,
                                    format!(
                                        "group {name}: the threshold {k:?} is not all, any or \
                                         a number from 1 to {}",
                                        members.len()
                                    ),
                                )
                            })?,
                    };
                    let mut ms = Vec::new();
                    for m in members.iter() {
                        let member = p.lookup(m).ok_or_else(|| {
                            err(
                                n,
                                format!("group {name}: {m:?} is not defined on an earlier line"),
                            )
                        })?;
                        if used.contains(&member) {
                            return Err(err(n, format!("{m:?} is a member a second time")));
                        }
                        used.push(member);
                        ms.push(member);
                    }
                    p.groups.push(Group {
                        name: name.to_string(),
                        threshold,
                        members: ms,
                    });
                }
                ["quorum", name] => {
                    if quorum_seen {
                        return Err(err(n, "a second quorum line".into()));
                    }
                    quorum_seen = true;
                    p.quorum = if *name == "none" {
                        None
                    } else {
                        Some(p.lookup(name).ok_or_else(|| {
                            err(
                                n,
                                format!("quorum {name:?} is not defined on an earlier line"),
                            )
                        })?)
                    };
                }
                [word, ..] => {
                    return Err(err(
                        n,
                        format!(
                            "{word:?} is not `log <vkey> [url]`, `witness <name> <vkey> [url]`, \
                             `group <name> all|any|k <names>` or `quorum <name>`, or has the \
                             wrong number of items"
                        ),
                    ))
                }
                [] => {}
            }
        }
        if !quorum_seen {
            return Err(err(
                line_no,
                "no quorum line (`quorum none` for none)".into(),
            ));
        }
        Ok(p)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("`none` is predefined and cannot be defined".into());
        }
        if self.lookup(name).is_some() {
            return Err(format!("{name:?} is defined twice"));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<Member> {
        self.witnesses
            .iter()
            .position(|w| w.name == name)
            .map(Member::Witness)
            .or_else(|| {
                self.groups
                    .iter()
                    .position(|g| g.name == name)
                    .map(Member::Group)
            })
    }

    fn holds(&self, m: Member, cosigned: &dyn Fn(&VerifierKey) -> bool) -> bool {
        match m {
            Member::Witness(i) => cosigned(&self.witnesses[i].key),
            Member::Group(i) => {
                let g = &self.groups[i];
                g.members
                    .iter()
                    .filter(|m| self.holds(**m, cosigned))
                    .count()
                    >= g.threshold
            }
        }
    }

    /// Whether the witnesses for which `cosigned` is true meet the quorum.
    pub fn quorum_met(&self, cosigned: &dyn Fn(&VerifierKey) -> bool) -> bool {
        self.quorum.is_none_or(|m| self.holds(m, cosigned))
    }

    /// The quorum, as a reader would state it: `none`, a witness's name, or
    /// `group (k of a, b, …)`.
    pub fn describe_quorum(&self) -> String {
        match self.quorum {
            None => "none".into(),
            Some(m) => self.describe(m),
        }
    }

    fn describe(&self, m: Member) -> String {
        match m {
            Member::Witness(i) => self.witnesses[i].name.clone(),
            Member::Group(i) => {
                let g = &self.groups[i];
                let members: Vec<String> = g.members.iter().map(|m| self.describe(*m)).collect();
                format!("{} ({} of {})", g.name, g.threshold, members.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignerKey;

    fn vkey(name: &str, seed: u8, suite: Suite) -> VerifierKey {
        SignerKey::from_secret(name, suite, &[seed; 32])
            .expect("key")
            .verifier()
    }

    /// The spec's example shape: 2 of X and any of Y, both required.
    #[test]
    fn a_two_level_quorum_is_met_exactly_when_the_spec_says() {
        let log = vkey("county.example/log", 1, Suite::Ed25519);
        let w: Vec<VerifierKey> = (0..6)
            .map(|i| vkey(&format!("w{i}.example"), 10 + i, Suite::Cosignature))
            .collect();
        let text = format!(
            "# a comment\n  log {} https://county.example/\n\n\
             witness X1 {}\nwitness X2 {}\nwitness X3 {}\t http://x3/\n\
             group X-witnesses 2 X1 X2 X3\n\
             witness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\n\
             group Y-witnesses any Y1 Y2 Y3\n\
             group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            log.to_vkey(),
            w[0].to_vkey(),
            w[1].to_vkey(),
            w[2].to_vkey(),
            w[3].to_vkey(),
            w[4].to_vkey(),
            w[5].to_vkey()
        );
        let p = Policy::parse(text.as_bytes()).expect("parses");
        assert_eq!(p.logs.len(), 1);
        assert_eq!(p.logs[0].url.as_deref(), Some("https://county.example/"));
        assert_eq!(p.witnesses[2].url.as_deref(), Some("http://x3/"));
        let met = |who: &[usize]| {
            let keys: Vec<VerifierKey> = who.iter().map(|i| w[*i].clone()).collect();
            p.quorum_met(&|k| keys.contains(k))
        };
        assert!(met(&[0, 1, 3]));
        assert!(met(&[0, 2, 5]));
        assert!(!met(&[0, 3, 4, 5]), "one X is not two");
        assert!(!met(&[0, 1, 2]), "no Y");
        assert!(!met(&[]));
        assert_eq!(
            p.describe_quorum(),
            "X-and-Y (2 of X-witnesses (2 of X1, X2, X3), Y-witnesses (1 of Y1, Y2, Y3))"
        );
    }

    #[test]
    fn malformed_policies_are_refused_naming_the_line() {
        let w1 = vkey("w1.example", 1, Suite::Cosignature).to_vkey();
        let w2 = vkey("w2.example", 2, Suite::Cosignature).to_vkey();
        let log = vkey("county.example/log", 3, Suite::Ed25519).to_vkey();
        for (text, line, want) in [
            (format!("witness A {w1}\n"), 2, "no quorum"),
            (format!("quorum A\nwitness A {w1}\n"), 1, "not defined"),
            (
                format!("witness A {w1}\nwitness A {w2}\nquorum A\n"),
                2,
                "twice",
            ),
            (
                format!("witness A {w1}\nwitness B {w1}\nquorum A\n"),
                2,
                "same key",
            ),
            (
                format!("witness A {w1}\ngroup G 2 A\nquorum G\n"),
                2,
                "threshold",
            ),
            (
                format!("witness A {w1}\ngroup G 0 A\nquorum G\n"),
                2,
                "threshold",
            ),
            (
                format!("witness A {w1}\ngroup G any A A\nquorum G\n"),
                2,
                "second time",
            ),
            (format!("witness none {w1}\nquorum none\n"), 1, "predefined"),
            (format!("log {w1}\nquorum none\n"), 1, "never a log"),
            (
                format!("log {log}\nlog {log}\nquorum none\n"),
                2,
                "same log key",
            ),
            ("quorum none\nquorum none\n".to_string(), 2, "second quorum"),
            ("mirror m k\nquorum none\n".to_string(), 1, "\"mirror\""),
            ("quorum none\x0b\n".to_string(), 1, "control character"),
            ("witness A not-a-key\nquorum A\n".to_string(), 1, "vkey"),
        ] {
            let e = Policy::parse(text.as_bytes()).expect_err(&text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
        let p = Policy::parse(b"quorum none\n").expect("none");
        assert!(p.quorum_met(&|_| false));
    }
}
