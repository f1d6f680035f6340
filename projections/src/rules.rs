//! The rules R1–R12 of DOMAIN.md §4 (and R13, D21) and the violation that names one of them.
//!
//! A refusal must be actionable by the person at the keyboard and defensible in an
//! accountability inquiry (倒查追责), so every violation carries the rule id, what the
//! rule says, the seed document and phrase it comes from, and how to override it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the twelve rules of DOMAIN.md §4, and R13 (results add up, D21).
/// The id is what users type after `--override`, so it is also the
/// serialised form (`"R2"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleId {
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
}

/// Where a rule comes from: the seed file's number prefix and a phrase that can be
/// grepped for in `seeds/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub file: &'static str,
    pub phrase: &'static str,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seeds/{} 「{}」", self.file, self.phrase)
    }
}

impl RuleId {
    pub const ALL: [RuleId; 13] = [
        RuleId::R1,
        RuleId::R2,
        RuleId::R3,
        RuleId::R4,
        RuleId::R5,
        RuleId::R6,
        RuleId::R7,
        RuleId::R8,
        RuleId::R9,
        RuleId::R10,
        RuleId::R11,
        RuleId::R12,
        RuleId::R13,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::R1 => "R1",
            RuleId::R2 => "R2",
            RuleId::R3 => "R3",
            RuleId::R4 => "R4",
            RuleId::R5 => "R5",
            RuleId::R6 => "R6",
            RuleId::R7 => "R7",
            RuleId::R8 => "R8",
            RuleId::R9 => "R9",
            RuleId::R10 => "R10",
            RuleId::R11 => "R11",
            RuleId::R12 => "R12",
            RuleId::R13 => "R13",
        }
    }

    /// What the rule requires, in Chinese and English, as DOMAIN.md states it.
    pub fn text(self) -> &'static str {
        match self {
            RuleId::R1 => "程序不走样：按规定顺序，不减少必经环节，不抢跑 / steps in the defined order, no mandatory step skipped, none before its predecessor completes",
            RuleId::R2 => "凡提四必：四项核查全部记录且无问题后方可讨论决定、确定候选人 / no decision or candidacy before all four checks are recorded and clean",
            RuleId::R3 => "未办结的信访举报、公示异议阻止下一环节 / an open petition, clue or publicity objection blocks the next step",
            RuleId::R4 => "换届纪律举报5个工作日内报送查核结果；考察对象的问题在考察结束前办结 / reports investigated within 5 working days; on an inspectee, closed before the inspection ends",
            RuleId::R5 => "公示期满方可结束公示 / publicity lasts its configured period before it may conclude",
            RuleId::R6 => "差额比例不低于规定且不低于上次换届 / candidates ≥ seats × (1 + minimum ratio), ratio not below last term's",
            RuleId::R7 => "每人接受委托不超过3票，被委托人不得是正式候选人，委托须经选举委员会同意 / a proxy holder carries at most 3 proxies, is no formal candidate, and needs the committee's consent",
            RuleId::R8 => "流动票箱由选举委员会制作，至少2名监票人，封口签名，投票人登记签名 / a mobile ballot box is the committee's, has ≥ 2 scrutineers, is sealed and signed, its voters registered",
            RuleId::R9 => "拉票贿选：不得列入，已列入的拿下来，已当选的宣布当选无效 / vote buying: not listed; if listed, removed; if elected, election void",
            RuleId::R10 => "回避：有利害关系者不得考察、决定该人选；选举委员会成员成为候选人须先辞职 / recusal: a conflicted actor may not inspect or decide for that candidate; committee members who become candidates resign",
            RuleId::R11 => "按职责记录：角色只记录其有权记录的环节，限本组织及下级 / a role records only its entitled steps, for its own organisation and below",
            RuleId::R12 => "不符合条件的由推荐者撤回提名，记录而不删除 / nominees who fail conditions are withdrawn by their nominator, recorded, not deleted",
            RuleId::R13 => "选举结果依法确定：当选人数不超过应选名额，得票与计票结果一致并过半数；另行选举、补选、重新选举须有其缘由 / results add up: winners within the seats, votes as tallied and over half, re-runs, by-elections and repeats only when due",
        }
    }

    /// The seed phrase the rule rests on (DOMAIN.md §4).
    pub fn source(self) -> Source {
        let (file, phrase) = match self {
            RuleId::R1 => ("000", "绝不能节省程序，更不需要抢跑"),
            RuleId::R2 => ("002", "问题没有查清、疑点没有消除的不得作为提名人选"),
            RuleId::R3 => ("002", "线索具体的信访举报必查"),
            RuleId::R4 => ("002", "在5个工作日内报送查核结果"),
            RuleId::R5 => ("002", "代表候选人预备人选应在一定范围内进行公示"),
            RuleId::R6 => ("002", "差额比例不低于上次换届"),
            RuleId::R7 => (
                "002",
                "每一选民接受的委托不能超过3票,被委托人必须不是正式代表候选人",
            ),
            RuleId::R8 => ("002", "至少要有2名以上监票人负责"),
            RuleId::R9 => ("002", "已经列入候选人名单的,坚决从名单上拿下来"),
            RuleId::R10 => ("002", "应当辞去选举委员会的职务"),
            RuleId::R11 => ("000", "组织部门的考察责任要到位"),
            RuleId::R12 => ("002", "由推荐者撤回提名"),
            RuleId::R13 => ("002", "选举结果由选举委员会依法确定有效"),
        };
        Source { file, phrase }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text a user typed is not one of R1–R13.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule {0:?}: expected one of R1 to R13")]
pub struct UnknownRule(pub String);

impl FromStr for RuleId {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase();
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

/// A refusal to record because the act would break a rule. `detail` says what, for
/// this command, is wrong; `override_roles` are the roles the procedure lets
/// grant an override of this rule (empty: it cannot be overridden), never to
/// excuse an act of their own (D20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: RuleId,
    pub detail: String,
    pub override_roles: Vec<String>,
}

impl Violation {
    pub fn source(&self) -> Source {
        self.rule.source()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} violated: {}", self.rule, self.detail)?;
        writeln!(f, "  rule:   {}", self.rule.text())?;
        writeln!(f, "  source: {}", self.rule.source())?;
        if self.override_roles.is_empty() {
            write!(
                f,
                "  override: not permitted for {} by this procedure",
                self.rule
            )
        } else {
            write!(
                f,
                "  override: a {} may first record override.granted for this act (never for its own), then record it with --override {} --justification \"...\"",
                self.override_roles.join(" / "),
                self.rule
            )
        }
    }
}

impl std::error::Error for Violation {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_parse_case_insensitively_and_reject_others() {
        assert_eq!("r10".parse::<RuleId>(), Ok(RuleId::R10));
        assert_eq!(" R2 ".parse::<RuleId>(), Ok(RuleId::R2));
        assert!("R14".parse::<RuleId>().is_err());
        assert!("".parse::<RuleId>().is_err());
    }

    #[test]
    fn every_rule_cites_a_seed_file() {
        for rule in RuleId::ALL {
            let s = rule.source();
            assert!(["000", "001", "002", "003", "004"].contains(&s.file));
            assert!(!s.phrase.is_empty());
        }
    }
}
