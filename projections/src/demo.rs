//! A realistic district transition, generated deterministically from a seed,
//! for `jishi demo`, tests and benchmarks. The figures follow DOMAIN.md §6: a
//! district (天元区) with many township party committees of 7–9 seats, a 20 %
//! differential, about 30 % women, 27.8 % exchanged cadres, most members with
//! township experience. Every command is meant to pass `decide`; a few
//! planted cases exercise each compliance finding:
//!
//! | township | planted |
//! |---|---|
//! | 0 | a deferred nomination (暂缓提名); a petition received in publicity and found true after the decision, then removal; a petition closed before inspection on the showcase candidate |
//! | 1 | no woman elected; publicity concluded early under an R5 override |
//! | 2 | nobody under 35; a non-specific petition open at the decision (ignored), its result late under an R4 override |
//! | 3 | too few members with township experience; a decision over an open specific petition under an R3 override |
//! | 4 | an elected continuing member aged 58; one nominee too many withdrawn, so a vote under R6, R7 and R8 overrides |
//! | 5 | vote buying found after the election: the election is declared void |
//!
//! Pure like the rest of the crate: it returns commands and the actors who
//! record them; the application records them through the gates.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone};

use crate::actor::Actor;
use crate::command::Command;
use crate::events::*;
use crate::procedure::{Procedure, ProcedureError};
use crate::rules::RuleId;

/// A small deterministic generator (SplitMix64): the same seed gives the same
/// district on every platform, with no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// True with probability `p` percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    pub seed: u64,
    pub townships: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        // 004: "18 electoral units"; enough for hundreds of candidates.
        DemoConfig {
            seed: 2021,
            townships: 18,
        }
    }
}

/// One command and who records it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub actor: Actor,
    pub command: Command,
}

#[derive(Debug, Clone)]
pub struct DemoElection {
    pub election_id: String,
    pub unit_name: String,
    /// In recording order; every command passes the gates in this order.
    pub commands: Vec<Planned>,
}

/// Where the planted cases are, for the demo's printout and its test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planted {
    /// (election, candidate) of the candidate whose trail the demo prints.
    pub showcase: (String, String),
    pub deferred: (String, String),
    pub petition_after_decision: (String, String),
    pub short_publicity: (String, String),
    pub late_report: (String, String),
    pub override_open_petition: (String, String),
    pub vote_overrides: String,
    pub vote_buying: (String, String),
    pub no_woman: String,
    pub no_young: String,
    pub low_township_work: String,
    pub service_term: (String, String),
}

#[derive(Debug, Clone)]
pub struct Demo {
    pub district: String,
    pub elections: Vec<DemoElection>,
    pub planted: Planted,
}

impl Demo {
    pub fn commands(&self) -> usize {
        self.elections.iter().map(|e| e.commands.len()).sum()
    }
}

const DISTRICT: &str = "天元区";
const TOWNS: [(&str, &str); 18] = [
    ("qingshan", "青山镇"),
    ("baishi", "白石镇"),
    ("hexi", "河西镇"),
    ("donghu", "东湖镇"),
    ("nanling", "南岭乡"),
    ("beitang", "北塘镇"),
    ("shiqiao", "石桥乡"),
    ("liuxi", "柳溪镇"),
    ("taoyuan", "桃源镇"),
    ("songlin", "松林乡"),
    ("meiling", "梅岭镇"),
    ("zhushan", "竹山乡"),
    ("jintian", "金田镇"),
    ("yinhe", "银河乡"),
    ("fenghuang", "凤凰镇"),
    ("longquan", "龙泉镇"),
    ("lianhua", "莲花乡"),
    ("qingshui", "清水镇"),
];
const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "霞", "平", "刚", "玲",
];
const POSTS: [&str; 6] = [
    "副镇长",
    "党委委员",
    "组织委员",
    "宣传委员",
    "村党支部书记",
    "站所负责人",
];

fn actor(id: &str, name: &str, role: &str) -> Actor {
    Actor::new(id, name, role, DISTRICT)
}

/// The district's recorders: the organisation department, an inspection
/// team, the discipline commission and the standing committee; and the
/// city's organisation department and discipline commission, who grant the
/// overrides of acts the district's own bodies may not excuse (D20).
struct Cast {
    zzb: Actor,
    kcz: Actor,
    jw: Actor,
    qw: Actor,
    city_zzb: Actor,
    city_jw: Actor,
}

/// A grant for one act (D20), recorded by a role other than the act's.
fn grant(rule: RuleId, act: &str, why: &str) -> EventBody {
    EventBody::OverrideGranted(OverrideGranted {
        rule,
        excused_event_type: act.into(),
        justification: why.into(),
        granted_by: None,
    })
}

/// A nominee as generated.
#[derive(Clone)]
struct Nominee {
    id: String,
    body: Nominated,
}

/// The working-day calendar of one township's timetable.
struct Clock<'a> {
    procedure: &'a Procedure,
    start: NaiveDate,
    tz: FixedOffset,
}

impl Clock<'_> {
    /// The `n`-th working day after the start, at `hour:minute`.
    fn at(&self, n: u32, hour: u32, minute: u32) -> DateTime<FixedOffset> {
        let day = self.procedure.calendar.nth_working_day_after(self.start, n);
        let naive = day
            .and_hms_opt(hour.min(23), minute.min(59), 0)
            .unwrap_or_default();
        self.tz
            .from_local_datetime(&naive)
            .single()
            .unwrap_or_else(|| self.tz.from_utc_datetime(&naive))
    }
}

/// Generates the district.
pub fn generate(config: &DemoConfig) -> Result<Demo, ProcedureError> {
    let mut townships = Townships::new(config.seed)?;
    let elections = townships.by_ref().take(config.townships.max(1)).collect();
    Ok(Demo {
        district: DISTRICT.to_string(),
        elections,
        planted: townships.planted,
    })
}

/// The district's townships one at a time, in the order [`generate`] gives
/// them, without end: a benchmark of 10,000,000 events records each one as
/// it is made rather than holding ten million commands in memory first, and
/// stops when it has written enough. The first townships are the same as
/// [`generate`]'s for the same seed, planted cases included.
pub struct Townships {
    procedure: Procedure,
    rng: Rng,
    cast: Cast,
    next: usize,
    /// Where the planted cases are among the townships made so far.
    pub planted: Planted,
}

impl Townships {
    pub fn new(seed: u64) -> Result<Townships, ProcedureError> {
        Ok(Townships {
            procedure: Procedure::builtin("township_party_committee")?,
            rng: Rng::new(seed),
            cast: Cast {
                zzb: actor("zzb-001", "张伟", "organisation_department"),
                kcz: actor("kcz-03", "刘洋", "inspection_team"),
                jw: actor("jw-007", "赵磊", "discipline_inspection"),
                qw: actor("qw-001", "王书记", "party_committee"),
                // The city's bodies act for the district's units: the
                // organisation paths of the demo begin at the district.
                city_zzb: actor("swzzb-01", "陈平", "higher_party_committee"),
                city_jw: actor("swjw-01", "孙刚", "higher_discipline_inspection"),
            },
            next: 0,
            planted: Planted::default(),
        })
    }
}

impl Iterator for Townships {
    type Item = DemoElection;

    fn next(&mut self) -> Option<DemoElection> {
        let t = self.next;
        self.next += 1;
        let (code, name) = TOWNS[t % TOWNS.len()];
        let round = t / TOWNS.len();
        let (code, name) = if round == 0 {
            (code.to_string(), name.to_string())
        } else {
            (format!("{code}{round}"), format!("{name}{round}"))
        };
        let election_id = format!("{code}-2021");
        let commands = township(
            &self.procedure,
            &mut self.rng,
            &self.cast,
            t,
            &election_id,
            &name,
            &mut self.planted,
        );
        Some(DemoElection {
            election_id,
            unit_name: name,
            commands,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn township(
    procedure: &Procedure,
    rng: &mut Rng,
    cast: &Cast,
    t: usize,
    election_id: &str,
    unit_name: &str,
    planted: &mut Planted,
) -> Vec<Planned> {
    let tz =
        FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    // 003: the township transitions ran from 2021-04-11 to 05-22; stagger them.
    let start =
        NaiveDate::from_ymd_opt(2021, 4, 12).unwrap_or_default() + Duration::days((t % 5) as i64);
    let clock = Clock {
        procedure,
        start,
        tz,
    };
    let mut out: Vec<Planned> = Vec::new();
    let mut push = |actor: &Actor, cmd: Command| {
        out.push(Planned {
            actor: actor.clone(),
            command: cmd,
        })
    };
    let cmd = |cand: Option<&str>, at: DateTime<FixedOffset>, body: EventBody| {
        Command::new(election_id, cand, at, body)
    };
    let unit_org = format!("{DISTRICT}/{unit_name}");
    let seats = rng.range(7, 9) as u32;
    let needed = (seats as usize * 12).div_ceil(10);
    let n = needed + 4;
    let plant = |k: usize| t == k;

    push(
        &cast.zzb,
        cmd(
            None,
            clock.at(0, 9, 0),
            EventBody::ElectionOpened(ElectionOpened {
                unit_id: election_id.trim_end_matches("-2021").to_string(),
                unit_name: unit_name.to_string(),
                unit_org,
                body: "镇党委委员".into(),
                kind: procedure.kind.clone(),
                seats,
                term: "2021-2026".into(),
                last_term_differential_ratio: Some(0.2),
                election_committee: vec![],
            }),
        ),
    );
    push(
        &cast.zzb,
        cmd(
            None,
            clock.at(1, 9, 0),
            EventBody::PledgeSigned(PledgeSigned {
                signer_category: "党委委员".into(),
                signer_count: seats + 2,
                signer_ids: vec![],
            }),
        ),
    );

    // Nominees. Index 0 is the showcase; the last `withdrawn` are withdrawn by
    // the nominator before the shortlist.
    // Nominees beyond the shortlist are withdrawn by the nominator, so that
    // the ballot carries the 20 % differential (003) rather than every nominee;
    // township 0 loses two more later (deferral, removal), township 4 one too
    // many (the R6 case).
    let withdrawn = match t {
        0 => 2,
        4 => 5,
        _ => 4,
    };
    let nominator_id = format!("{}-party", election_id.trim_end_matches("-2021"));
    let nominator_name = format!("{unit_name}党委");
    let mut nominees = Vec::new();
    for k in 0..n {
        let id = format!("c-{:02}", k + 1);
        let female = if plant(1) {
            false
        } else {
            k == 1 || rng.chance(30)
        };
        let mut age = rng.range(30, 52) as i32;
        if plant(2) {
            age = age.max(36);
        } else if k == 2 {
            age = 31;
        }
        let mut incumbent = rng.chance(50);
        if plant(4) && k == 0 {
            age = 58;
            incumbent = true;
        }
        let township_work_years = if plant(3) && k % 2 == 0 {
            rng.range(0, 1) as u32
        } else if k < 6 || rng.chance(85) {
            rng.range(2, 15) as u32
        } else {
            rng.range(0, 1) as u32
        };
        let name = if plant(0) && k == 0 {
            "李明".to_string()
        } else {
            format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN))
        };
        let year = 2021 - age;
        let birth_date =
            NaiveDate::from_ymd_opt(year, rng.range(1, 12) as u32, rng.range(1, 28) as u32)
                .unwrap_or_default();
        // Age is taken on the day of the vote, in May: born after that day is a year younger.
        let birth_date = if birth_date.month() >= 5 {
            birth_date.with_month(3).unwrap_or(birth_date)
        } else {
            birth_date
        };
        let body = Nominated {
            name,
            sex: if female { Sex::Female } else { Sex::Male },
            birth_date,
            current_post: rng.pick(&POSTS).to_string(),
            township_work_years,
            exchanged: rng.chance(28),
            incumbent,
            election_committee_member: false,
            method: if k % 3 == 0 {
                NominationMethod::Organisation
            } else {
                NominationMethod::Meeting
            },
            nominator_id: nominator_id.clone(),
            nominator_name: nominator_name.clone(),
            recommendation_votes: Some(RecommendationVotes {
                received: rng.range(20, 45) as u32,
                total: 50,
            }),
            ethnicity: None,
            education: Some(
                if rng.chance(40) {
                    "研究生"
                } else {
                    "大学"
                }
                .into(),
            ),
            representative_category: None,
            person_ref: None,
        };
        push(
            &cast.zzb,
            cmd(
                Some(&id),
                clock.at(2, 9, k as u32),
                EventBody::Nominated(body.clone()),
            ),
        );
        nominees.push(Nominee { id, body });
    }
    let (active, gone) = nominees.split_at(n - withdrawn);
    for (i, c) in gone.iter().enumerate() {
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                clock.at(3, 10, i as u32),
                EventBody::NominationWithdrawn(NominationWithdrawn {
                    nominator_id: nominator_id.clone(),
                    reason: "经资格审查不符合任职条件，由推荐单位撤回".into(),
                }),
            ),
        );
    }
    let showcase = &active[0].id;
    if plant(0) {
        planted.showcase = (election_id.into(), showcase.clone());
        petition_cycle(
            &mut push,
            cast,
            &clock,
            election_id,
            showcase,
            "xf-0001",
            3,
            5,
            PetitionConclusion::Unfounded,
        );
    }
    for (k, c) in active.iter().enumerate() {
        let k = k as u32;
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                clock.at(4, 9, k),
                EventBody::Shortlisted(Shortlisted {
                    basis: "谈话推荐和会议推荐综合，结构需要".into(),
                }),
            ),
        );
    }
    for (k, c) in active.iter().enumerate() {
        let k = k as u32;
        push(
            &cast.kcz,
            cmd(
                Some(&c.id),
                clock.at(6, 9, k),
                EventBody::InspectionConducted(InspectionConducted {
                    team_leader: "kcz-03".into(),
                    team_members: vec!["kcz-04".into(), "kcz-05".into()],
                    interviewees: rng.range(20, 40) as u32,
                    extended: true,
                    findings: "政治过硬，实绩突出，群众公认".into(),
                }),
            ),
        );
    }
    // The last of each list, so that the woman (k = 1) and the young cadre
    // (k = 2) stay in the running.
    let deferred = if plant(0) {
        Some(active[active.len() - 1].id.clone())
    } else {
        None
    };
    for (k, c) in active.iter().enumerate() {
        let k = k as u32;
        let at = |h| clock.at(7, h, k);
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                at(9),
                EventBody::ArchiveReviewed(ArchiveReviewed {
                    birth_date: c.body.birth_date,
                    party_join_date: c.body.birth_date.with_year(c.body.birth_date.year() + 22),
                    work_start_date: c
                        .body
                        .birth_date
                        .with_year(c.body.birth_date.year() + 22)
                        .unwrap_or(c.body.birth_date),
                    education: c.body.education.clone().unwrap_or_default(),
                    work_history_verified: true,
                    identity_verified: true,
                    discrepancies: vec![],
                }),
            ),
        );
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                at(10),
                EventBody::PersonalMattersVerified(PersonalMattersVerified {
                    outcome: if rng.chance(10) {
                        PersonalMattersOutcome::Explained
                    } else {
                        PersonalMattersOutcome::Consistent
                    },
                    note: None,
                }),
            ),
        );
        let pending = deferred.as_deref() == Some(c.id.as_str());
        push(
            &cast.jw,
            cmd(
                Some(&c.id),
                at(11),
                EventBody::DisciplineOpinionIssued(DisciplineOpinionIssued {
                    opinion: if pending {
                        DisciplineOpinion::Pending
                    } else {
                        DisciplineOpinion::Clear
                    },
                    affects_appointment: false,
                    note: pending.then(|| "有问题线索尚在核查".to_string()),
                }),
            ),
        );
        push(
            &cast.jw,
            cmd(
                Some(&c.id),
                at(14),
                EventBody::PetitionsSwept(PetitionsSwept {
                    found: 0,
                    note: None,
                }),
            ),
        );
        if pending {
            planted.deferred = (election_id.into(), c.id.clone());
            push(
                &cast.zzb,
                cmd(
                    Some(&c.id),
                    at(16),
                    EventBody::NominationDeferred(NominationDeferred {
                        reason: "纪检监察机关意见待出具，暂缓提名".into(),
                    }),
                ),
            );
        }
    }
    for round in 1..=6u32 {
        push(
            &cast.zzb,
            cmd(
                None,
                clock.at(9, 8 + round, 0),
                EventBody::DeliberationRound(DeliberationRound {
                    round,
                    direction: if round % 2 == 1 {
                        Direction::Up
                    } else {
                        Direction::Down
                    },
                    summary: format!("三上三下 第{round}轮 酝酿人选名单"),
                }),
            ),
        );
    }
    let going: Vec<&Nominee> = active
        .iter()
        .filter(|c| deferred.as_deref() != Some(c.id.as_str()))
        .collect();
    // Planted petitions around the decision.
    let late_target = going[3].id.clone();
    if plant(2) {
        planted.late_report = (election_id.into(), late_target.clone());
        push(
            &cast.jw,
            cmd(
                Some(&late_target),
                clock.at(8, 10, 0),
                petition_body("xf-0201", false),
            ),
        );
    }
    let open_target = going[3].id.clone();
    if plant(3) {
        planted.override_open_petition = (election_id.into(), open_target.clone());
        push(
            &cast.jw,
            cmd(
                Some(&open_target),
                clock.at(10, 9, 0),
                petition_body("xf-0301", true),
            ),
        );
    }
    for (k, c) in going.iter().enumerate() {
        let mut command = cmd(
            Some(&c.id),
            clock.at(11, 15, k as u32),
            EventBody::CommitteeDecided(CommitteeDecided {
                meeting_id: format!("{}-cwh-07", election_id.trim_end_matches("-2021")),
                body: "区委常委会".into(),
                chair: "qw-001".into(),
                attendees: (1..=9).map(|i| format!("qw-{i:03}")).collect(),
                votes_for: 9,
                votes_against: 0,
                abstain: 0,
                outcome: DecisionOutcome::Approved,
                rationale: "综合考察、酝酿情况，拟提名为镇党委委员候选人".into(),
            }),
        );
        if plant(3) && c.id == open_target {
            let why = "信访件反映事项与任职资格无关，经常委会研究先行决定，同步核查";
            push(
                &cast.jw,
                cmd(
                    Some(&c.id),
                    command.occurred_at,
                    grant(
                        RuleId::R3,
                        "committee.decided",
                        "区纪委核实：反映事项与任职资格无关，同意先行决定",
                    ),
                ),
            );
            command = command.with_override(RuleId::R3, why);
        }
        push(&cast.qw, command);
    }
    if plant(3) {
        petition_cycle(
            &mut push,
            cast,
            &clock,
            election_id,
            &open_target,
            "xf-0301",
            0,
            12,
            PetitionConclusion::Unfounded,
        );
    }
    for (k, c) in going.iter().enumerate() {
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                clock.at(12, 9, k as u32),
                EventBody::PublicityStarted(PublicityStarted {
                    scope: "全镇范围".into(),
                    channel: "公示栏、政务网站".into(),
                }),
            ),
        );
    }
    // Township 0: a petition arrives during publicity and is found true.
    let found_true = going[going.len() - 1].id.clone();
    if plant(0) {
        planted.petition_after_decision = (election_id.into(), found_true.clone());
        petition_cycle(
            &mut push,
            cast,
            &clock,
            election_id,
            &found_true,
            "xf-0002",
            13,
            15,
            PetitionConclusion::Substantiated,
        );
        push(
            &cast.zzb,
            cmd(
                Some(&found_true),
                clock.at(15, 16, 0),
                EventBody::CandidateRemoved(CandidateRemoved {
                    reason: "公示期间举报经查属实，不再作为候选人".into(),
                    rule: None,
                }),
            ),
        );
    }
    if plant(2) {
        // Result 8 working days after receipt (due within 5): late, under R4.
        let at = clock.at(16, 10, 0);
        push(
            &cast.city_jw,
            cmd(
                Some(&late_target),
                at,
                grant(
                    RuleId::R4,
                    "petition.investigated",
                    "需异地调取材料，经市纪委同意延期报送",
                ),
            ),
        );
        push(
            &cast.jw,
            cmd(
                Some(&late_target),
                at,
                EventBody::PetitionInvestigated(PetitionInvestigated {
                    petition_id: "xf-0201".into(),
                    result: "经查反映问题失实".into(),
                    handler: "jw-011".into(),
                    leader: "jw-007".into(),
                }),
            )
            .with_override(RuleId::R4, "需异地调取材料，经市纪委同意延期"),
        );
        push(
            &cast.jw,
            cmd(
                Some(&late_target),
                clock.at(16, 11, 0),
                EventBody::PetitionClosed(PetitionClosed {
                    petition_id: "xf-0201".into(),
                    conclusion: PetitionConclusion::Unfounded,
                    note: "失实，予以澄清".into(),
                }),
            ),
        );
    }
    let listed: Vec<&Nominee> = going
        .iter()
        .filter(|c| !(plant(0) && c.id == found_true))
        .copied()
        .collect();
    let short = listed[0].id.clone();
    for (k, c) in listed.iter().enumerate() {
        let early = plant(1) && c.id == short;
        let at = if early {
            clock.at(14, 9, 0)
        } else {
            clock.at(17, 17, k as u32)
        };
        let mut command = cmd(
            Some(&c.id),
            at,
            EventBody::PublicityConcluded(PublicityConcluded {
                result: "公示期间未收到不良反映".into(),
            }),
        );
        if early {
            planted.short_publicity = (election_id.into(), c.id.clone());
            push(
                &cast.qw,
                cmd(
                    Some(&c.id),
                    at,
                    grant(
                        RuleId::R5,
                        "publicity.concluded",
                        "选举日程经上级批准提前，区委同意公示期相应缩短",
                    ),
                ),
            );
            command = command.with_override(RuleId::R5, "选举日程经上级批准提前，公示期相应缩短");
        }
        push(&cast.zzb, command);
    }
    for (k, c) in listed.iter().enumerate() {
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                clock.at(18, 10, k as u32),
                EventBody::ApprovalGranted(ApprovalGranted {
                    approving_body: "区委组织部".into(),
                    reference: format!("天组函〔2021〕{}号", 10 + t),
                }),
            ),
        );
        push(
            &cast.zzb,
            cmd(
                Some(&c.id),
                clock.at(19, 10, k as u32),
                EventBody::CandidacyConfirmed(CandidacyConfirmed {
                    list_reference: format!("{unit_name}党委委员候选人名单"),
                }),
            ),
        );
    }
    // The vote: winners are the showcase, the woman (k = 1), the young cadre
    // (k = 2) when still listed, then the rest in order.
    let ballots_valid = rng.range(120, 180);
    let mut votes = BTreeMap::new();
    let winners: Vec<&Nominee> = listed.iter().take(seats as usize).copied().collect();
    for c in &winners {
        votes.insert(c.id.clone(), ballots_valid * rng.range(88, 99) / 100);
    }
    // Each valid ballot names at most `seats` people (D21): the others share
    // what the winners leave.
    let left = (ballots_valid * u64::from(seats)).saturating_sub(votes.values().sum());
    let losers: Vec<&&Nominee> = listed
        .iter()
        .filter(|c| !winners.iter().any(|w| w.id == c.id))
        .collect();
    for c in &losers {
        let share = ballots_valid * rng.range(5, 30) / 100;
        votes.insert(c.id.clone(), share.min(left / losers.len() as u64));
    }
    let mut vote_cmd = cmd(
        None,
        clock.at(21, 9, 0),
        EventBody::VoteHeld(VoteHeld {
            round: 1,
            ballots_issued: ballots_valid + 4,
            ballots_returned: ballots_valid + 2,
            ballots_valid,
            votes: votes.clone(),
            scrutineers: vec!["jp-01".into(), "jp-02".into()],
            proxies: if plant(4) {
                vec![Proxy {
                    holder_id: "dy-031".into(),
                    giver_ids: (1..=4).map(|i| format!("dy-1{i:02}")).collect(),
                    committee_approved: true,
                }]
            } else {
                vec![]
            },
            mobile_boxes: vec![MobileBox {
                box_id: "ldpx-1".into(),
                made_by_committee: true,
                scrutineers: if plant(4) {
                    vec!["jp-03".into()]
                } else {
                    vec!["jp-03".into(), "jp-04".into()]
                },
                sealed: true,
                signed: true,
                voters_registered: true,
            }],
            // 应到: the party members or representatives entitled to vote.
            electors: Some(ballots_valid + 6),
            purpose: None,
        }),
    );
    if plant(4) {
        planted.vote_overrides = election_id.into();
        planted.service_term = (election_id.into(), listed[0].id.clone());
        let at = vote_cmd.occurred_at;
        for (rule, why) in [
            (
                RuleId::R6,
                "部分人选撤回后差额不足，市委组织部同意按现名单选举",
            ),
            (RuleId::R7, "行动不便党员集中委托，市委组织部认可"),
            (
                RuleId::R8,
                "偏远村组仅派出1名监票人，另有工作人员见证，市委组织部认可",
            ),
        ] {
            push(&cast.city_zzb, cmd(None, at, grant(rule, "vote.held", why)));
        }
        vote_cmd = vote_cmd
            .with_override(
                RuleId::R6,
                "部分人选撤回后差额不足，经市委组织部同意按现名单选举",
            )
            .with_override(RuleId::R7, "行动不便党员集中委托，经大会主席团认可")
            .with_override(RuleId::R8, "偏远村组仅派出1名监票人，另有工作人员见证");
    }
    push(&cast.qw, vote_cmd);
    for (k, c) in winners.iter().enumerate() {
        push(
            &cast.qw,
            cmd(
                Some(&c.id),
                clock.at(21, 16, k as u32),
                EventBody::Elected(Elected {
                    votes: votes.get(&c.id).copied().unwrap_or(0),
                    ballots_valid,
                }),
            ),
        );
    }
    if plant(5) {
        let bought = winners[winners.len() - 1].id.clone();
        planted.vote_buying = (election_id.into(), bought.clone());
        push(
            &cast.jw,
            cmd(
                Some(&bought),
                clock.at(23, 10, 0),
                EventBody::VoteBuyingFound(VoteBuyingFound {
                    source: "区纪委立案调查".into(),
                    summary: "选举前宴请党员代表并送礼拉票".into(),
                }),
            ),
        );
    }
    match t {
        1 => planted.no_woman = election_id.into(),
        2 => planted.no_young = election_id.into(),
        3 => planted.low_township_work = election_id.into(),
        _ => {}
    }
    out
}

fn petition_body(id: &str, specific: bool) -> EventBody {
    EventBody::PetitionReceived(PetitionReceived {
        petition_id: id.into(),
        channel: "来信".into(),
        specific,
        summary: "反映该同志有关问题".into(),
    })
}

/// A petition received on working day `received` (unless 0: already received),
/// investigated and closed on working day `closed`.
#[allow(clippy::too_many_arguments)]
fn petition_cycle(
    push: &mut impl FnMut(&Actor, Command),
    cast: &Cast,
    clock: &Clock<'_>,
    election_id: &str,
    candidate: &str,
    id: &str,
    received: u32,
    closed: u32,
    conclusion: PetitionConclusion,
) {
    let cmd = |at, body| Command::new(election_id, Some(candidate), at, body);
    if received > 0 {
        push(
            &cast.jw,
            cmd(clock.at(received, 8, 30), petition_body(id, true)),
        );
    }
    push(
        &cast.jw,
        cmd(
            clock.at(closed, 8, 40),
            EventBody::PetitionInvestigated(PetitionInvestigated {
                petition_id: id.into(),
                result: if conclusion.is_clean() {
                    "经核查，反映问题失实".into()
                } else {
                    "经核查，反映问题基本属实".into()
                },
                handler: "jw-011".into(),
                leader: "jw-007".into(),
            }),
        ),
    );
    push(
        &cast.jw,
        cmd(
            clock.at(closed, 8, 50),
            EventBody::PetitionClosed(PetitionClosed {
                petition_id: id.into(),
                conclusion,
                note: if conclusion.is_clean() {
                    "失实，予以澄清".into()
                } else {
                    "属实，影响任用".into()
                },
            }),
        ),
    );
}
