//! Who records an act, and the organisation hierarchy that bounds what they may
//! record (R11: "own organisation and below").

use serde::{Deserialize, Serialize};

/// The person responsible for an act (谁提名谁负责). Kept here rather than taken from
/// the ledger crate so that the domain stays independent of storage; the
/// application maps the ledger's actor to this one field by field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub name: String,
    /// A role id defined by the procedure (e.g. `organisation_department`).
    pub role: String,
    /// The actor's organisation as a `/`-separated path, e.g. `天元区/青山镇`.
    pub org: String,
}

impl Actor {
    pub fn new(id: &str, name: &str, role: &str, org: &str) -> Self {
        Actor {
            id: id.to_string(),
            name: name.to_string(),
            role: role.to_string(),
            org: org.to_string(),
        }
    }
}

/// Whether an organisation at path `actor_org` may act for the unit at `unit_org`:
/// it is the same organisation or an ancestor of it. Compared segment by segment so
/// that `天元区/青山` does not cover `天元区/青山镇`, and surrounding slashes or
/// blanks are ignored. An empty path covers nothing: an actor without an
/// organisation cannot be placed in the hierarchy.
pub fn org_covers(actor_org: &str, unit_org: &str) -> bool {
    let actor: Vec<&str> = segments(actor_org);
    let unit: Vec<&str> = segments(unit_org);
    !actor.is_empty() && actor.len() <= unit.len() && actor.iter().zip(&unit).all(|(a, u)| a == u)
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::org_covers;

    #[test]
    fn an_ancestor_covers_its_descendants_but_not_siblings_or_parents() {
        assert!(org_covers("天元区", "天元区/青山镇/石桥村"));
        assert!(org_covers("天元区/青山镇", "天元区/青山镇"));
        assert!(!org_covers("天元区/青山", "天元区/青山镇"));
        assert!(!org_covers("天元区/青山镇", "天元区"));
        assert!(!org_covers("天元区/河西镇", "天元区/青山镇"));
        assert!(!org_covers("", "天元区"));
        assert!(org_covers("/天元区/", "天元区/青山镇"));
    }
}
