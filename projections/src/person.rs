//! One person across elections (issue 16, item 7; domain decision 30).
//!
//! A candidate id belongs to one election, so nothing links the 李明 of a
//! 2021 township election to the 李明 of a 2026 county one. The national id
//! number (居民身份证号码, GB 11643) would, but it must never be in the
//! ledger in clear: the ledger is read by many, kept for ever, and mirrored
//! upwards. So a nomination carries a **person reference** instead: a keyed
//! BLAKE3 hash of the normalised number, `p1:` and 64 hex digits. The key is
//! a secret held outside the database, by whoever may link people. A
//! province that shares one key across its counties links their ledgers.
//! Without the key, a reference cannot be turned back into the number, nor
//! computed from a guessed one: the numbers are few enough to enumerate, so
//! an unkeyed hash would hide nothing.

use serde::{Deserialize, Serialize};

/// The domain separation of the keyed hash, so that the key serves no other
/// purpose by accident.
const CONTEXT: &[u8] = b"jishi.person.v1\0";

/// A person reference: `p1:` and the 64 hex digits of the keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonRef(String);

/// Why a text is not an id number or a person reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("an id number has 18 characters (17 digits and a check digit or X), got {0}")]
    Length(usize),
    #[error("an id number has digits in its first 17 places")]
    NotDigits,
    #[error("the id number's birth date {0} is not a date")]
    BirthDate(String),
    #[error("the id number's check character is {got}, but its digits give {want}: mistyped")]
    Check { got: char, want: char },
    #[error("a person reference is `p1:` and 64 lowercase hex digits, got {0:?}")]
    NotARef(String),
}

/// The number as it is compared: spaces removed, `x` upper-cased, checked as
/// GB 11643 says (17 digits, a valid birth date in places 7–14, and the ISO
/// 7064 MOD 11-2 check character), so that a mistyped number is refused
/// rather than linked to nobody.
pub fn normalise_id_number(text: &str) -> Result<String, PersonError> {
    let id: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let chars: Vec<char> = id.chars().collect();
    if chars.len() != 18 {
        return Err(PersonError::Length(chars.len()));
    }
    if !chars[..17].iter().all(char::is_ascii_digit) {
        return Err(PersonError::NotDigits);
    }
    let birth = &id[6..14];
    if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return Err(PersonError::BirthDate(birth.to_string()));
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = chars[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let want = CHECK[(sum % 11) as usize];
    if chars[17] != want {
        return Err(PersonError::Check {
            got: chars[17],
            want,
        });
    }
    Ok(id)
}

impl PersonRef {
    /// The reference of an id number under `key`.
    pub fn of_id_number(key: &[u8; 32], id_number: &str) -> Result<PersonRef, PersonError> {
        let id = normalise_id_number(id_number)?;
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(CONTEXT);
        h.update(id.as_bytes());
        Ok(PersonRef(format!("p1:{}", h.finalize().to_hex())))
    }

    /// A reference as written.
    pub fn parse(text: &str) -> Result<PersonRef, PersonError> {
        let ok = text.strip_prefix("p1:").is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(PersonRef(text.to_string()))
        } else {
            Err(PersonError::NotARef(text.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonRef {
    type Error = PersonError;
    fn try_from(s: String) -> Result<PersonRef, PersonError> {
        PersonRef::parse(&s)
    }
}

impl From<PersonRef> for String {
    fn from(p: PersonRef) -> String {
        p.0
    }
}

impl std::fmt::Display for PersonRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A well-formed number made up for the tests (region 110101, born
    // 1990-03-07, sequence 109): its check character is computed, and X.
    const ID: &str = "11010119900307109X";

    #[test]
    fn an_id_number_is_checked_as_gb_11643_says() {
        assert_eq!(normalise_id_number(ID), Ok(ID.to_string()));
        assert_eq!(
            normalise_id_number("110101 19900307 109x"),
            Ok(ID.to_string())
        );
        assert_eq!(
            normalise_id_number("110101199003071091"),
            Err(PersonError::Check {
                got: '1',
                want: 'X'
            })
        );
        assert_eq!(
            normalise_id_number("110101199003071231"),
            Err(PersonError::Check {
                got: '1',
                want: '3'
            })
        );
        assert_eq!(
            normalise_id_number("1101011990030712"),
            Err(PersonError::Length(16))
        );
        assert!(matches!(
            normalise_id_number("110101199002301234"),
            Err(PersonError::BirthDate(_))
        ));
        assert_eq!(
            normalise_id_number("11010119900307A09X"),
            Err(PersonError::NotDigits)
        );
    }

    #[test]
    fn the_reference_depends_on_the_key_and_the_person_only() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let a = PersonRef::of_id_number(&k1, ID).expect("ref");
        assert_eq!(
            a,
            PersonRef::of_id_number(&k1, "110101 19900307 109x").expect("ref")
        );
        assert_ne!(a, PersonRef::of_id_number(&k2, ID).expect("ref"));
        assert!(!a.as_str().contains("19900307"));
        assert_eq!(PersonRef::parse(a.as_str()), Ok(a.clone()));
        for bad in ["", "p1:", "p2:00", &format!("p1:{}", "A".repeat(64)), ID] {
            assert!(PersonRef::parse(bad).is_err(), "{bad}");
        }
        let v: Result<PersonRef, _> = serde_json::from_value(serde_json::json!(ID));
        assert!(v.is_err(), "an id number in clear is not a reference");
    }
}
