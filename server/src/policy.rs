//! Who may do what: the server's access policy, pure, so that every
//! allow/deny pair is a unit test and the handlers only ask.
//!
//! Two checks stack on every recording: this policy (the user's access role
//! and organisation scope, answered with 403 before anything is decided) and
//! the domain's own gates in `decide` (the acting procedure role and R11,
//! answered with 422 and the rule). Reads are scoped here only.

use jishi_app::users::{AccessRole, User};
use jishi_projections::{org_covers, Sensitivity};

/// Why a request is refused (403). The text names what was missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

fn deny(text: impl Into<String>) -> Result<(), Denied> {
    Err(Denied(text.into()))
}

/// The kinds discipline inspection records: its opinion, the petitions and
/// objections it handles, findings of vote buying, conflicts it finds, and
/// corrections of its own records (DOMAIN.md §2).
pub const INSPECTOR_KINDS: &[&str] = &[
    "check.discipline_opinion",
    "check.petitions_swept",
    "petition.received",
    "petition.investigated",
    "petition.closed",
    "publicity.objection_resolved",
    "finding.vote_buying",
    "conflict.declared",
    "correction.recorded",
    "pledge.signed",
    // The discipline organ grants overrides of R3 (the petitions it
    // handles) for others' acts; which rule it may grant is the domain's
    // `[overrides]` (D20, D101).
    "override.granted",
];

/// Whether `user` may read the records of an election of organisation
/// `election_org`: investigators everywhere, the others (admins included,
/// D48) in their own organisation and below.
pub fn may_read_election(user: &User, election_org: &str) -> Result<(), Denied> {
    match user.role {
        AccessRole::Investigator => Ok(()),
        AccessRole::Recorder | AccessRole::Inspector | AccessRole::Admin
            if org_covers(&user.org, election_org) =>
        {
            Ok(())
        }
        // Names no organisation but the user's own: the handlers answer this
        // with the same 404 as an absent election anyway (D53).
        _ => deny(format!(
            "{} {} may read elections of {} and below",
            user.role, user.id, user.org
        )),
    }
}

/// Whether `user` may record a command of `kind` for an election of
/// `election_org` (with an override or not).
pub fn may_record(
    user: &User,
    kind: &str,
    election_org: &str,
    _with_override: bool,
) -> Result<(), Denied> {
    match user.role {
        AccessRole::Investigator => {
            return deny("an investigator reads and exports; it records no step of the procedure")
        }
        AccessRole::Inspector if !INSPECTOR_KINDS.contains(&kind) => {
            return deny(format!(
                "an inspector records its opinions and petition handling ({}), not {kind}",
                INSPECTOR_KINDS.join(", ")
            ))
        }
        _ => {}
    }
    // An act recorded with an override no longer needs an admin (D101):
    // since D20 the override is authorised by an `override.granted` that
    // another, entitled role recorded first, and `decide` refuses the act
    // without one. Requiring an admin as well would make the committee's
    // secretary an administrator of users and keys just to use a grant.
    if !org_covers(&user.org, election_org) {
        return deny(format!(
            "{} {} records for {} and below, not for {election_org}",
            user.role, user.id, user.org
        ));
    }
    Ok(())
}

/// Whether `user` may see content of this sensitivity (DOMAIN-DETAIL.md §6):
/// personal matters by the organisation department that checks them,
/// discipline inspection and investigators; petitions by discipline
/// inspection and investigators only. Admins run the system; they are not
/// entitled to the content.
pub fn may_see(user: &User, s: Sensitivity) -> bool {
    match s {
        Sensitivity::Process => true,
        Sensitivity::PersonalMatters => match user.role {
            AccessRole::Inspector | AccessRole::Investigator => true,
            AccessRole::Recorder => user.acts_as == "organisation_department",
            AccessRole::Admin => false,
        },
        Sensitivity::Petition => {
            matches!(user.role, AccessRole::Inspector | AccessRole::Investigator)
        }
    }
}

/// A whistleblower's identity: recorded by discipline inspection, read by it
/// and by investigators.
pub fn may_record_source(user: &User) -> Result<(), Denied> {
    if user.role == AccessRole::Inspector {
        Ok(())
    } else {
        deny("only discipline inspection records a petitioner's identity")
    }
}

pub fn may_read_source(user: &User) -> Result<(), Denied> {
    if matches!(user.role, AccessRole::Inspector | AccessRole::Investigator) {
        Ok(())
    } else {
        deny("a petitioner's identity is for discipline inspection and investigators only")
    }
}

/// Case exports: investigators only. A case file must hold every payload
/// whole (its digests are checked offline), restricted ones included, so it
/// goes only to the role that may read everything.
pub fn may_export(user: &User) -> Result<(), Denied> {
    if user.role == AccessRole::Investigator {
        Ok(())
    } else {
        deny("exporting a case is for investigators")
    }
}

/// Who read a candidate's records: investigators, admins, and inspectors in
/// their scope (checked by the caller with [`may_read_election`]).
pub fn may_read_accesses(user: &User) -> Result<(), Denied> {
    if user.role == AccessRole::Recorder {
        deny("the record of who read a trail is for inspectors, investigators and admins")
    } else {
        Ok(())
    }
}

/// Users and checkpoints (keys): admins.
pub fn may_administer(user: &User) -> Result<(), Denied> {
    if user.role == AccessRole::Admin {
        Ok(())
    } else {
        deny("only an admin manages users and signs checkpoints")
    }
}

/// Whether admin `user` may add a user of `role` in organisation `org`
/// (D48): only within its own subtree, and only roles it holds no less than.
/// Recorders and admins, yes; inspectors and investigators see petition
/// content, which an admin may not (D33), so an admin cannot mint them: the
/// operator who holds the database adds them with `jishi user add`.
pub fn may_add_user(user: &User, role: AccessRole, org: &str) -> Result<(), Denied> {
    may_administer(user)?;
    if matches!(role, AccessRole::Inspector | AccessRole::Investigator) {
        return deny(format!(
            "an admin may not add an {role}: it would see petition content that admins may \
             not; the operator adds one with `jishi user add` on the command line"
        ));
    }
    if !org_covers(&user.org, org.trim()) {
        return deny(format!(
            "admin {} manages users of {} and below, not of {}",
            user.id,
            user.org,
            org.trim()
        ));
    }
    Ok(())
}

/// Whether admin `user` may revoke or reissue the token of `target`: a user
/// of its own subtree, of a role it may add (so an admin cannot take over an
/// inspector's account by reissuing its token).
pub fn may_manage_user(user: &User, target: &User) -> Result<(), Denied> {
    may_add_user(user, target.role, &target.org)
}

/// Running a full verification on demand: investigators and admins.
pub fn may_run_verify(user: &User) -> Result<(), Denied> {
    if matches!(user.role, AccessRole::Investigator | AccessRole::Admin) {
        Ok(())
    } else {
        deny("running a verification is for investigators and admins")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: AccessRole, org: &str, acts_as: &str) -> User {
        User {
            id: format!("{role}-1"),
            name: "测试".into(),
            role,
            org: org.into(),
            acts_as: acts_as.into(),
            token_sha256: String::new(),
            added_at: 1,
            added_by: "root".into(),
            revoked: false,
            expires_at: "2999-01-01T00:00:00Z".into(),
        }
    }

    const TOWN: &str = "天元区/青山镇";

    #[test]
    fn reads_are_scoped_to_own_organisation_and_below() {
        let county = user(AccessRole::Recorder, "天元区", "organisation_department");
        let other = user(
            AccessRole::Recorder,
            "天元区/河西镇",
            "organisation_department",
        );
        let inspector = user(
            AccessRole::Inspector,
            "天元区/河西镇",
            "discipline_inspection",
        );
        let investigator = user(AccessRole::Investigator, "市纪委", "investigator");
        assert!(may_read_election(&county, TOWN).is_ok());
        assert!(may_read_election(&other, TOWN).is_err());
        assert!(may_read_election(&inspector, TOWN).is_err());
        assert!(may_read_election(&investigator, TOWN).is_ok());
    }

    #[test]
    fn recording_follows_role_kind_scope_and_override() {
        let rec = user(AccessRole::Recorder, "天元区", "organisation_department");
        let insp = user(AccessRole::Inspector, "天元区", "discipline_inspection");
        let inv = user(AccessRole::Investigator, "天元区", "investigator");
        let admin = user(AccessRole::Admin, "天元区", "party_committee");
        assert!(may_record(&rec, "candidate.nominated", TOWN, false).is_ok());
        assert!(may_record(&rec, "candidate.nominated", "河东区/x", false).is_err());
        // With an override: the grant is the domain's check (D101).
        assert!(may_record(&rec, "candidate.nominated", TOWN, true).is_ok());
        assert!(may_record(&rec, "candidate.nominated", "河东区/x", true).is_err());
        assert!(may_record(&inv, "candidate.nominated", TOWN, true).is_err());
        assert!(may_record(&insp, "override.granted", TOWN, false).is_ok());
        assert!(may_record(&insp, "check.discipline_opinion", TOWN, false).is_ok());
        assert!(may_record(&insp, "committee.decided", TOWN, false).is_err());
        assert!(may_record(&inv, "petition.received", TOWN, false).is_err());
        assert!(may_record(&admin, "committee.decided", TOWN, true).is_ok());
        for k in INSPECTOR_KINDS {
            assert!(
                jishi_projections::kind_of(k).is_some(),
                "{k} is not in the catalogue"
            );
        }
    }

    #[test]
    fn sensitive_content_is_for_entitled_roles_only() {
        let od = user(AccessRole::Recorder, "天元区", "organisation_department");
        let pc = user(AccessRole::Recorder, "天元区", "party_committee");
        let insp = user(AccessRole::Inspector, "天元区", "discipline_inspection");
        let admin = user(AccessRole::Admin, "天元区", "admin");
        assert!(may_see(&od, Sensitivity::PersonalMatters));
        assert!(!may_see(&pc, Sensitivity::PersonalMatters));
        assert!(!may_see(&od, Sensitivity::Petition));
        assert!(may_see(&insp, Sensitivity::Petition));
        assert!(!may_see(&admin, Sensitivity::Petition));
        assert!(may_read_source(&insp).is_ok() && may_read_source(&od).is_err());
        assert!(may_record_source(&insp).is_ok() && may_record_source(&admin).is_err());
    }
}
