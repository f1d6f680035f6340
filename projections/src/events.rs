//! The event catalogue: every fact jishi records about an election unit and a
//! candidate's path through it, as typed Rust values with a stable JSON form.
//!
//! The ledger stores `(event_type, schema_version, payload)`; this module is the only
//! place that maps between those and the typed events, so that a stored event always
//! folds back into the state it came from (`from_parts(to_payload(e)) == e`).
//!
//! The payload of every event is a JSON object with three header keys —
//! `election_id`, `candidate_id` (absent for election-level events) and
//! `occurred_at` — plus the event's own fields. The header is repeated in the
//! payload, although the envelope also knows the stream and the time, so that an
//! exported payload is meaningful on its own and so that folding never depends on
//! parsing stream names.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::actor::Actor;
use crate::person::PersonRef;
use crate::rules::RuleId;

/// Where an event lives: on the election's stream or on one candidate's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Election,
    Candidate,
    /// Corrections and overrides go to the stream of the act they concern.
    Either,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Election => "election",
            Scope::Candidate => "candidate",
            Scope::Either => "election or candidate",
        }
    }
}

/// One field of an event (and of the command that records it), for `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDoc {
    pub name: &'static str,
    /// The Rust type, e.g. `Option<String>`; `Option` means the field may be left out.
    pub ty: &'static str,
    pub doc: &'static str,
}

impl FieldDoc {
    pub fn optional(&self) -> bool {
        self.ty.starts_with("Option")
            || self.ty.starts_with("Vec")
            || self.ty.starts_with("BTreeMap")
    }
}

/// One kind of event in the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct EventKind {
    pub event_type: &'static str,
    pub schema_version: u32,
    pub scope: Scope,
    /// Chinese name, as the documents say it.
    pub label: &'static str,
    pub fields: &'static [FieldDoc],
    /// Whether a user may record it with `jishi record` (overrides are only ever
    /// emitted by `decide`).
    pub recordable: bool,
}

// ---------------------------------------------------------------------------
// Value types used inside payloads.

/// How a nominee was put forward (002: "先个别谈话推荐后会议推荐"; 003:
/// "组织提名和党员提名两结合"; 002: 选民联名).
/// What a party representative (or deputy) represents, as the seeds count
/// the congress's composition (003:8: 农村工作一线代表 56%, 专业技术人才和先进
/// 模范人物代表 28.2%, 外出务工党员代表 4.6%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepresentativeCategory {
    /// 工作一线 (农村、生产一线)
    Frontline,
    /// 专业技术人才和先进模范人物
    ProfessionalOrModel,
    /// 外出务工党员
    MigrantWorker,
    /// 领导干部
    LeadingCadre,
    /// 其他
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NominationMethod {
    /// 个别谈话推荐
    IndividualConversation,
    /// 会议推荐
    Meeting,
    /// 组织推荐
    Organisation,
    /// 党员(选民)联名
    Joint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
}

/// Recommendation tally: a reference, never an automatic selection (002:
/// "防止简单以票取人"), hence recorded but not used by any gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationVotes {
    pub received: u32,
    pub total: u32,
}

/// A difference found between the archive and what the nominee declared
/// (三龄两历一身份).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discrepancy {
    pub field: String,
    pub note: String,
    pub resolved: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalMattersOutcome {
    /// 如实报告
    Consistent,
    /// 有出入但已说明，不影响使用
    Explained,
    /// 发现问题
    Problem,
}

/// 纪检监察机关意见 (004: "是否影响任用出具结论性意见").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisciplineOpinion {
    Clear,
    Objection,
    Pending,
}

/// How a petition or clue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PetitionConclusion {
    /// 失实、予以澄清
    Unfounded,
    /// 部分属实但不影响任用
    NotAffecting,
    /// 属实，影响任用
    Substantiated,
    /// 查实拉票贿选 (R9)
    VoteBuying,
}

impl PetitionConclusion {
    /// Whether the candidate may go on: the doubt is dispelled (疑点消除).
    pub fn is_clean(self) -> bool {
        matches!(
            self,
            PetitionConclusion::Unfounded | PetitionConclusion::NotAffecting
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    Passed,
    Adjusted,
    Failed,
}

/// One department's verdict in the joint review (联审, 004: "17个部门").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentVerdict {
    pub department: String,
    pub verdict: ReviewVerdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// 上 (from below to the committee)
    Up,
    /// 下 (feedback downward)
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    Approved,
    Rejected,
}

/// A written proxy (委托投票, 002:209).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    pub holder_id: String,
    pub giver_ids: Vec<String>,
    pub committee_approved: bool,
}

/// A mobile ballot box (流动票箱, 002:213).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileBox {
    pub box_id: String,
    pub made_by_committee: bool,
    pub scrutineers: Vec<String>,
    pub sealed: bool,
    pub signed: bool,
    pub voters_registered: bool,
}

/// Why a ballot is held (D21): the first vote, or one of the later rounds the
/// result may call for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VotePurpose {
    /// 正式选举: the election's first vote.
    #[default]
    Regular,
    /// 另行选举: fewer winners than seats, another round for the seats left.
    Rerun,
    /// 补选: a seat fell vacant after the result (e.g. 当选无效).
    ByElection,
    /// 重新选举: the whole election was declared void (选举无效).
    Repeat,
}

impl VotePurpose {
    pub fn label(self) -> &'static str {
        match self {
            VotePurpose::Regular => "正式选举 regular",
            VotePurpose::Rerun => "另行选举 re-run",
            VotePurpose::ByElection => "补选 by-election",
            VotePurpose::Repeat => "重新选举 repeat",
        }
    }
}

/// The registered voters of one mobile ballot box (流动票箱登记册, 002:213).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileBoxRoll {
    pub box_id: String,
    pub voter_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualificationOutcome {
    Valid,
    Invalid,
    /// 线索清楚但尚未查实时暂缓提出意见 (002:215)
    Deferred,
}

// ---------------------------------------------------------------------------
// The catalogue. One macro invocation defines, per event, its payload struct, its
// event type and schema version, its stream scope, its Chinese label and the field
// documentation shown by `--help`, so that these can never drift apart.

macro_rules! catalogue {
    ( $(
        $(#[doc = $vdoc:literal])*
        $variant:ident ($event_type:literal, v $version:literal, $scope:ident, $label:literal, $recordable:literal) {
            $( $(#[$fattr:meta])* $field:ident : $ty:ty => $fdoc:literal ),* $(,)?
        }
    )* ) => {
        $(
            $(#[doc = $vdoc])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $variant {
                $( $(#[$fattr])* #[doc = $fdoc] pub $field: $ty, )*
            }

            impl $variant {
                pub const FIELDS: &'static [FieldDoc] = &[
                    $( FieldDoc { name: stringify!($field), ty: stringify!($ty), doc: $fdoc }, )*
                ];

                /// Names the first field whose value does not fit its type, so that
                /// a user learns which `--set key=value` is wrong.
                fn diagnose(map: &Map<String, Value>) -> Option<(String, String)> {
                    const NAMES: &[&str] = &[$( stringify!($field) ),*];
                    if let Some(unknown) = map.keys().find(|k| !NAMES.contains(&k.as_str())) {
                        return Some((
                            unknown.clone(),
                            format!("unknown field; the fields are {}", NAMES.join(", ")),
                        ));
                    }
                    $(
                        if let Some(v) = map.get(stringify!($field)) {
                            if let Err(e) = serde_json::from_value::<$ty>(v.clone()) {
                                return Some((stringify!($field).to_string(), e.to_string()));
                            }
                        }
                    )*
                    None
                }
            }
        )*

        /// The body of a domain event: what happened, without the header (which
        /// election, which candidate, when).
        #[derive(Debug, Clone, PartialEq)]
        pub enum EventBody {
            $( $variant($variant), )*
        }

        impl EventBody {
            pub fn event_type(&self) -> &'static str {
                match self { $( EventBody::$variant(_) => $event_type, )* }
            }

            pub fn schema_version(&self) -> u32 {
                match self { $( EventBody::$variant(_) => $version, )* }
            }

            pub fn scope(&self) -> Scope {
                match self { $( EventBody::$variant(_) => Scope::$scope, )* }
            }

            fn fields_to_value(&self) -> Result<Value, serde_json::Error> {
                match self { $( EventBody::$variant(b) => serde_json::to_value(b), )* }
            }

            /// Builds a body from its event type and its own fields (header removed).
            pub fn from_fields(event_type: &str, fields: Map<String, Value>) -> Result<EventBody, EventError> {
                match event_type {
                    $( $event_type => {
                        let diagnosis = $variant::diagnose(&fields);
                        serde_json::from_value::<$variant>(Value::Object(fields))
                            .map(EventBody::$variant)
                            .map_err(|e| match diagnosis {
                                Some((field, reason)) => EventError::InvalidField {
                                    event_type: $event_type.to_string(), field, reason,
                                },
                                None => EventError::Invalid {
                                    event_type: $event_type.to_string(), reason: e.to_string(),
                                },
                            })
                    } )*
                    other => Err(EventError::UnknownType(other.to_string())),
                }
            }
        }

        /// Every event kind, in catalogue order.
        pub const CATALOGUE: &[EventKind] = &[
            $( EventKind {
                event_type: $event_type,
                schema_version: $version,
                scope: Scope::$scope,
                label: $label,
                fields: $variant::FIELDS,
                recordable: $recordable,
            }, )*
        ];
    };
}

catalogue! {
    /// 换届启动: the election unit, its body and seats. Carries last term's ratio
    /// because R6 compares against it.
    ElectionOpened("election.opened", v 1, Election, "启动换届", true) {
        unit_id: String => "election unit id",
        unit_name: String => "election unit name, e.g. 青山镇",
        unit_org: String => "organisation path of the unit, e.g. 天元区/青山镇",
        body: String => "body to be elected, e.g. 镇党委委员",
        kind: String => "procedure kind, e.g. township_party_committee",
        seats: u32 => "number of seats (应选名额)",
        term: String => "term, e.g. 2021-2026",
        last_term_differential_ratio: Option<f64> => "differential ratio of the last term, e.g. 0.2",
        #[serde(default)]
        election_committee: Vec<String> => "person ids of the election committee members",
    }
    /// 签订《严守换届纪律承诺书》(004) or a collective pledge (003 "集体联名承诺").
    PledgeSigned("pledge.signed", v 1, Election, "签订换届纪律承诺书", true) {
        signer_category: String => "who signed, e.g. 党委委员 / 组织干部 / 党代表",
        signer_count: u32 => "number of pledges signed",
        #[serde(default)]
        signer_ids: Vec<String> => "person ids of signers, when individually known",
    }
    /// 选民登记 (002:207 "不漏登、不错登、不重登"): the roll after this
    /// registration, what it added and removed, and the voters of each mobile
    /// ballot box (002:213 "在流动票箱投票的选民,要由选举委员会登记造册").
    VotersRegistered("voters.registered", v 1, Election, "选民登记", true) {
        registered: u64 => "voters on the roll after this registration",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String> => "remarks",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        added: Option<u64> => "voters added since the last registration (新增)",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removed: Option<u64> => "voters removed since the last registration (减少: 迁出、死亡、被剥夺政治权利)",
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mobile_box_voters: Vec<MobileBoxRoll> => "voters of each mobile box [{box_id, voter_ids}]",
    }
    /// A member of the election committee resigns from it (R10: 应当辞去选举委员会的职务).
    CommitteeMemberResigned("election_committee.member_resigned", v 1, Election, "辞去选举委员会职务", true) {
        person_id: String => "person id of the member",
        reason: String => "reason, e.g. 被提名为代表候选人",
    }
    /// 酝酿 ("三上三下", 004): one round of consultation on the list.
    DeliberationRound("deliberation.round", v 1, Election, "酝酿", true) {
        round: u32 => "round number, 1-based",
        direction: Direction => "up or down",
        summary: String => "what was consulted and the outcome",
    }
    /// 投票、计票 (002:209, 002:213): the ballot of the whole unit.
    VoteHeld("vote.held", v 1, Election, "投票、计票", true) {
        round: u32 => "ballot round, 1-based",
        ballots_issued: u64 => "ballots issued (发出)",
        ballots_returned: u64 => "ballots returned (收回)",
        ballots_valid: u64 => "valid ballots (有效)",
        votes: BTreeMap<String, u64> => "votes per candidate id",
        scrutineers: Vec<String> => "person ids of the scrutineers (监票人)",
        #[serde(default)]
        proxies: Vec<Proxy> => "proxies [{holder_id, giver_ids, committee_approved}]",
        #[serde(default)]
        mobile_boxes: Vec<MobileBox> => "mobile boxes [{box_id, made_by_committee, scrutineers, sealed, signed, voters_registered}]",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        electors: Option<u64> => "应到人数: those entitled to vote; required where the procedure's majority is of those entitled",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purpose: Option<VotePurpose> => "regular (default) / rerun (另行选举) / by_election (补选) / repeat (重新选举 after election.declared_void)",
    }
    /// 督导检查: the supervision group's visit to one step (seed 000:12
    /// "对提名推荐、考察、公示、换届选举等各个环节进行严格督促检查"), what it
    /// observed, the non-conformities it found and any corrective order (D29).
    SupervisionVisited("supervision.visited", v 1, Election, "督导检查", true) {
        step: String => "id of the procedure step observed, e.g. publicity",
        observations: String => "what the group saw",
        #[serde(default)]
        nonconformities: Vec<String> => "non-conformities found (问题)",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        corrective_order: Option<String> => "corrective order issued (整改要求)",
    }
    /// 选举无效: the unit's whole election declared void, to be held again
    /// (002:959 "应责成原选举单位重新进行选举"; 002:1015 "导致换届选举工作无效,重新组织选举").
    /// Every seat won in it ends; the next vote must be a `repeat`.
    ElectionDeclaredVoid("election.declared_void", v 1, Election, "宣布选举无效", true) {
        reason: String => "why the election is void, e.g. the procedure not followed",
        decided_by: String => "the body deciding, e.g. 镇党委代表资格审查小组",
    }
    /// 提名 / 推荐: the start of a candidate's trail, carrying the facts later needed
    /// for structure checks and statistics (age, sex, township work, exchange,
    /// incumbency, election-committee membership).
    Nominated("candidate.nominated", v 1, Candidate, "提名推荐", true) {
        name: String => "the nominee's name",
        sex: Sex => "female or male",
        birth_date: NaiveDate => "date of birth, YYYY-MM-DD",
        current_post: String => "current post",
        township_work_years: u32 => "years of township work (乡镇工作经历)",
        exchanged: bool => "exchanged from elsewhere (交流)",
        incumbent: bool => "member of the outgoing body (留任) rather than new",
        election_committee_member: bool => "is a member of the election committee",
        method: NominationMethod => "individual_conversation / meeting / organisation / joint",
        nominator_id: String => "id of the nominator (person or organisation) responsible",
        nominator_name: String => "name of the nominator",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recommendation_votes: Option<RecommendationVotes> => "recommendation tally {received, total}",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ethnicity: Option<String> => "ethnicity",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        education: Option<String> => "highest education",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        representative_category: Option<RepresentativeCategory> => "for a representative or deputy: frontline / professional_or_model / migrant_worker / leading_cadre / other (the congress's composition, 003)",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person_ref: Option<PersonRef> => "the person across elections: a keyed hash of the id number, never the number (`p1:` and 64 hex; `jishi record --id-number N --person-key FILE` makes it)",
    }
    /// 确定考察对象.
    Shortlisted("candidate.shortlisted", v 1, Candidate, "确定考察对象", true) {
        basis: String => "why: recommendation, structure, conditions",
    }
    /// 考察: with interviews of informed persons and extended inspection (002).
    /// Its recording marks the end of the inspection task (R4).
    InspectionConducted("inspection.conducted", v 1, Candidate, "组织考察", true) {
        team_leader: String => "person id of the team leader",
        team_members: Vec<String> => "person ids of the team members",
        interviewees: u32 => "number of people interviewed (谈话人数)",
        extended: bool => "extended inspection done (延伸考察)",
        findings: String => "findings",
    }
    /// 档案必审: 三龄两历一身份.
    ArchiveReviewed("check.archive_reviewed", v 1, Candidate, "档案必审", true) {
        birth_date: NaiveDate => "age: date of birth per archive",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        party_join_date: Option<NaiveDate> => "party age: date of joining the party",
        work_start_date: NaiveDate => "work age: date work began",
        education: String => "education history (学历)",
        work_history_verified: bool => "work history (经历) verified",
        identity_verified: bool => "identity (身份) verified",
        #[serde(default)]
        discrepancies: Vec<Discrepancy> => "discrepancies [{field, note, resolved}]",
    }
    /// 个人有关事项报告必核.
    PersonalMattersVerified("check.personal_matters_verified", v 1, Candidate, "个人有关事项报告必核", true) {
        outcome: PersonalMattersOutcome => "consistent / explained / problem",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String> => "remarks",
    }
    /// 纪检监察机关意见必听.
    DisciplineOpinionIssued("check.discipline_opinion", v 1, Candidate, "纪检监察机关意见必听", true) {
        opinion: DisciplineOpinion => "clear / objection / pending",
        affects_appointment: bool => "whether it affects appointment (是否影响任用)",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String> => "remarks",
    }
    /// 线索具体的信访举报必查: the sweep of petitions and clues on the nominee
    /// (信访线索"大起底", 004). Individual petitions are their own events.
    PetitionsSwept("check.petitions_swept", v 1, Candidate, "信访举报必查", true) {
        found: u32 => "petitions or clues found by the sweep",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String> => "remarks",
    }
    /// 信访举报 / 问题线索 received. The petitioner's identity is deliberately not a
    /// field: it must never reach the candidate's trail (DOMAIN.md §7).
    PetitionReceived("petition.received", v 1, Candidate, "受理信访举报", true) {
        petition_id: String => "petition or clue id",
        channel: String => "how it came in: 来信 / 来电 / 网络 / 来访 / 上级转办",
        specific: bool => "clue specific enough that it must be investigated (线索具体)",
        summary: String => "summary (no whistleblower identity)",
    }
    /// Investigation result reported (查核结果), signed by handler and leader.
    PetitionInvestigated("petition.investigated", v 1, Candidate, "报送查核结果", true) {
        petition_id: String => "petition or clue id",
        result: String => "investigation result",
        handler: String => "person id of the case handler (承办人)",
        leader: String => "person id of the responsible leader (负责人)",
    }
    /// 办结.
    PetitionClosed("petition.closed", v 1, Candidate, "办结", true) {
        petition_id: String => "petition or clue id",
        conclusion: PetitionConclusion => "unfounded / not_affecting / substantiated / vote_buying",
        note: String => "conclusion text",
    }
    /// 联审 by departments (004: "17个部门").
    JointReview("review.joint", v 1, Candidate, "部门联审", true) {
        departments: Vec<DepartmentVerdict> => "[{department, verdict: passed/adjusted/failed, note}]",
        outcome: ReviewVerdict => "passed / adjusted / failed",
    }
    /// 回避: a person declares (or is found to have) a conflict with this candidate.
    ConflictDeclared("conflict.declared", v 1, Candidate, "回避申报", true) {
        person_id: String => "person id of the conflicted person",
        person_name: String => "name",
        relation: String => "nature of the conflict, e.g. 近亲属",
    }
    /// 讨论决定 / 票决 (谁主持会议讨论决定谁负责).
    CommitteeDecided("committee.decided", v 1, Candidate, "党委(常委会)讨论决定", true) {
        meeting_id: String => "meeting id",
        body: String => "deciding body, e.g. 区委常委会",
        chair: String => "person id of the chair",
        attendees: Vec<String> => "person ids of attendees",
        votes_for: u32 => "votes for",
        votes_against: u32 => "votes against",
        abstain: u32 => "abstentions",
        outcome: DecisionOutcome => "approved / rejected",
        rationale: String => "rationale (not simply the vote count, 002: 防止简单以票取人)",
    }
    /// 公示 begins.
    PublicityStarted("publicity.started", v 1, Candidate, "公示开始", true) {
        scope: String => "where, e.g. 全镇范围",
        channel: String => "how, e.g. 公示栏 / 网站",
    }
    /// 公示期间收到的反映.
    PublicityObjectionReceived("publicity.objection_received", v 1, Candidate, "公示反映", true) {
        objection_id: String => "objection id",
        summary: String => "summary (no reporter identity)",
    }
    PublicityObjectionResolved("publicity.objection_resolved", v 1, Candidate, "公示反映核查办结", true) {
        objection_id: String => "objection id",
        resolution: String => "how it was resolved",
        substantiated: bool => "whether the objection proved true",
    }
    PublicityConcluded("publicity.concluded", v 1, Candidate, "公示结束", true) {
        result: String => "result, e.g. 无不良反映",
    }
    /// 报批 to the higher level.
    ApprovalGranted("approval.granted", v 1, Candidate, "报批", true) {
        approving_body: String => "approving body, e.g. 区委组织部",
        reference: String => "document number of the approval",
    }
    /// 确定候选人: the nominee is on the formal list.
    CandidacyConfirmed("candidacy.confirmed", v 1, Candidate, "确定候选人", true) {
        list_reference: String => "reference of the candidate list",
    }
    /// 暂缓提名 (004: "暂缓提名10人").
    NominationDeferred("nomination.deferred", v 1, Candidate, "暂缓提名", true) {
        reason: String => "why the nomination is deferred",
    }
    /// The deferral is lifted once the doubts are cleared (疑点消除).
    NominationResumed("nomination.resumed", v 1, Candidate, "恢复提名", true) {
        reason: String => "why the doubts no longer stand",
    }
    /// 由推荐者撤回提名 (R12).
    NominationWithdrawn("nomination.withdrawn", v 1, Candidate, "撤回提名", true) {
        nominator_id: String => "id of the nominator withdrawing (must be the one on record)",
        reason: String => "which condition the nominee fails",
    }
    /// 从名单上拿下来.
    CandidateRemoved("candidate.removed", v 1, Candidate, "从名单上拿下来", true) {
        reason: String => "why",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleId> => "the rule that requires it, e.g. R9",
    }
    /// 当选.
    Elected("candidate.elected", v 1, Candidate, "当选", true) {
        votes: u64 => "votes received",
        ballots_valid: u64 => "valid ballots in that vote",
    }
    /// 当选无效.
    ElectionVoided("candidate.election_voided", v 1, Candidate, "当选无效", true) {
        reason: String => "why",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleId> => "the rule that requires it, e.g. R9",
    }
    /// 代表资格审查 (002:215).
    QualificationReviewed("qualification.reviewed", v 1, Candidate, "代表资格审查", true) {
        outcome: QualificationOutcome => "valid / invalid / deferred",
        note: String => "remarks",
    }
    /// 拉票贿选 established by the discipline organ (R9).
    VoteBuyingFound("finding.vote_buying", v 1, Candidate, "查实拉票贿选", true) {
        source: String => "how it was established",
        summary: String => "what was found",
    }
    /// A correction: points at an earlier event and says what was wrong. The
    /// earlier event is never edited.
    CorrectionRecorded("correction.recorded", v 1, Either, "更正", true) {
        corrects_event_id: String => "event id (or position) of the event corrected",
        reason: String => "what was wrong",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        corrected: Option<Value> => "the corrected values, as a JSON object",
    }
    /// The procedure in force for the election, recorded by `decide` right after
    /// `election.opened` (D65): its canonical TOML and that text's BLAKE3 digest.
    /// Replay (`jishi check`, `jishi verify --domain`) judges every later event
    /// under it.
    ProcedureAdopted("procedure.adopted", v 1, Election, "确定换届程序", false) {
        kind: String => "procedure kind, e.g. township_party_committee",
        digest: String => "BLAKE3 (hex) of `content`",
        content: String => "the procedure's canonical TOML",
    }
    /// A change of the procedure in force (D66): from this event on, the election
    /// follows `content`. Recorded through the gates by a role the procedure
    /// in force permits; the content is stored in canonical form.
    ProcedureAmended("procedure.amended", v 1, Election, "变更换届程序", true) {
        content: String => "the new procedure, as TOML (stored canonical)",
        reason: String => "why the procedure changes, e.g. the approving document",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String> => "BLAKE3 (hex) of the canonical content; filled in by jishi",
    }
    /// 批准越权记录: a role other than the one whose act it excuses allows one
    /// act despite a rule (D20). Which roles may grant which rule is the
    /// procedure's `[overrides]`; the act then names the rule with `--override`
    /// and uses the grant up. Seed 002 "谁提名谁负责、谁考察谁负责、谁主持会议讨论决定谁负责":
    /// no one excuses their own act.
    OverrideGranted("override.granted", v 1, Either, "批准越权记录", true) {
        rule: RuleId => "the rule the act may break, e.g. R2",
        excused_event_type: String => "event type of the one act it excuses, e.g. committee.decided",
        justification: String => "why, with the approving document",
        #[serde(default, skip_serializing_if = "Option::is_none")]
        granted_by: Option<Actor> => "who grants it; filled in by jishi with the recording actor",
    }
    /// An act recorded despite a rule, by a role the procedure entitles, with a
    /// justification. Emitted by `decide` just before the act itself.
    OverrideRecorded("override.recorded", v 1, Either, "依规越权记录", false) {
        rule: RuleId => "the rule broken",
        justification: String => "why",
        authorised_by: Actor => "who authorised it",
        overridden_event_type: String => "event type of the act recorded",
        violation: String => "what the refusal said",
    }
}

/// Keys every payload carries besides the event's own fields.
pub const HEADER_KEYS: [&str; 3] = ["election_id", "candidate_id", "occurred_at"];

/// The gate mark (D67): the payload key the gated path (`jishi record`, the
/// server, `record_batch`) adds to every event it writes into an election
/// stream, holding the digest of the procedure the event was decided under.
/// An event of a domain stream without it was written around the gates (a raw
/// append or import). It is not part of the typed event: [`DomainEvent::from_payload`]
/// takes it out, and [`DomainEvent::from_payload_marked`] returns it beside.
pub const GATE_KEY: &str = "gated_under";

/// A domain event: header plus body.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub election_id: String,
    pub candidate_id: Option<String>,
    /// When it happened in the world; also the envelope's `occurred_at`.
    pub occurred_at: DateTime<FixedOffset>,
    pub body: EventBody,
}

/// Why a stored or typed-in event could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("unknown event type {0:?} (see the event catalogue)")]
    UnknownType(String),
    #[error(
        "event type {event_type} has schema version {found}; this build reads version {supported}"
    )]
    UnsupportedVersion {
        event_type: String,
        found: u32,
        supported: u32,
    },
    #[error("{event_type}: the payload must be a JSON object")]
    NotAnObject { event_type: String },
    #[error("{event_type}: field `{field}` is invalid: {reason}")]
    InvalidField {
        event_type: String,
        field: String,
        reason: String,
    },
    #[error("{event_type}: {reason}")]
    Invalid { event_type: String, reason: String },
}

impl DomainEvent {
    pub fn event_type(&self) -> &'static str {
        self.body.event_type()
    }

    pub fn schema_version(&self) -> u32 {
        self.body.schema_version()
    }

    /// The ledger stream this event must be appended to.
    pub fn stream(&self) -> String {
        match &self.candidate_id {
            Some(c) => candidate_stream(&self.election_id, c),
            None => election_stream(&self.election_id),
        }
    }

    pub fn occurred_at_rfc3339(&self) -> String {
        self.occurred_at.to_rfc3339()
    }

    /// The payload the ledger stores: header keys plus the body's fields.
    pub fn to_payload(&self) -> Value {
        let mut map = match self.body.fields_to_value() {
            Ok(Value::Object(m)) => m,
            // Every body is a struct of serialisable fields, so this arm is not
            // reached; an empty object keeps the function total.
            _ => Map::new(),
        };
        map.insert(
            "election_id".into(),
            Value::String(self.election_id.clone()),
        );
        if let Some(c) = &self.candidate_id {
            map.insert("candidate_id".into(), Value::String(c.clone()));
        }
        map.insert(
            "occurred_at".into(),
            Value::String(self.occurred_at.to_rfc3339()),
        );
        Value::Object(map)
    }

    /// Rebuilds an event from what the ledger stored.
    pub fn from_parts(
        event_type: &str,
        schema_version: u32,
        payload: &Value,
    ) -> Result<DomainEvent, EventError> {
        DomainEvent::from_payload(event_type, schema_version, payload.clone())
    }

    /// As [`DomainEvent::from_parts`], taking the payload by value: a reader
    /// that has just parsed it (a rebuild reads millions) saves a copy.
    pub fn from_payload(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<DomainEvent, EventError> {
        DomainEvent::from_payload_marked(event_type, schema_version, payload).map(|(e, _)| e)
    }

    /// As [`DomainEvent::from_payload`], returning the gate mark too (the
    /// procedure digest under [`GATE_KEY`], if the payload has one).
    pub fn from_payload_marked(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<(DomainEvent, Option<String>), EventError> {
        let kind = kind_of(event_type).ok_or_else(|| EventError::UnknownType(event_type.into()))?;
        if kind.schema_version != schema_version {
            return Err(EventError::UnsupportedVersion {
                event_type: event_type.into(),
                found: schema_version,
                supported: kind.schema_version,
            });
        }
        let Value::Object(mut fields) = payload else {
            return Err(EventError::NotAnObject {
                event_type: event_type.into(),
            });
        };
        let mark = match fields.remove(GATE_KEY) {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                return Err(EventError::InvalidField {
                    event_type: event_type.into(),
                    field: GATE_KEY.into(),
                    reason: "must be a procedure digest (text)".into(),
                })
            }
        };
        let header = Header::take(event_type, &mut fields)?;
        let body = EventBody::from_fields(event_type, fields)?;
        Ok((
            DomainEvent {
                election_id: header.election_id,
                candidate_id: header.candidate_id,
                occurred_at: header.occurred_at,
                body,
            },
            mark,
        ))
    }
}

/// The header keys, taken out of a payload or command object.
pub(crate) struct Header {
    pub election_id: String,
    pub candidate_id: Option<String>,
    pub occurred_at: DateTime<FixedOffset>,
}

impl Header {
    pub(crate) fn take(
        event_type: &str,
        fields: &mut Map<String, Value>,
    ) -> Result<Header, EventError> {
        let invalid = |field: &str, reason: &str| EventError::InvalidField {
            event_type: event_type.into(),
            field: field.into(),
            reason: reason.into(),
        };
        let election_id = match fields.remove("election_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(_) => return Err(invalid("election_id", "must be a non-empty string")),
            None => return Err(invalid("election_id", "missing")),
        };
        let candidate_id = match fields.remove("candidate_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            Some(Value::Null) | None => None,
            Some(_) => return Err(invalid("candidate_id", "must be a non-empty string")),
        };
        let occurred_at = match fields.remove("occurred_at") {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(&s).map_err(|e| {
                invalid(
                    "occurred_at",
                    &format!("{s:?} is not an RFC 3339 time with offset: {e}"),
                )
            })?,
            Some(_) => return Err(invalid("occurred_at", "must be an RFC 3339 string")),
            None => return Err(invalid("occurred_at", "missing")),
        };
        Ok(Header {
            election_id,
            candidate_id,
            occurred_at,
        })
    }
}

/// Who may read an event's content (DOMAIN.md §7). The chain commits to every
/// payload's digest, so a reader who may not see the content still sees that
/// the event exists, who recorded it, when, and its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Process facts anyone entitled to the election may read.
    Process,
    /// Personal-matters reports and the personnel archive (个人有关事项、人事档案):
    /// the organisation department's own checks, discipline inspection and
    /// investigators.
    PersonalMatters,
    /// Petitions, clues and publicity objections (举报内容): discipline
    /// inspection and investigators only. The whistleblower's identity is never
    /// in these payloads at all (it is kept beside the election, not in it).
    Petition,
}

impl Sensitivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Process => "process",
            Sensitivity::PersonalMatters => "personal_matters",
            Sensitivity::Petition => "petition",
        }
    }

    /// Chinese and English label, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Sensitivity::Process => "过程信息 process",
            Sensitivity::PersonalMatters => "个人有关事项 personal matters",
            Sensitivity::Petition => "信访举报 petition",
        }
    }
}

/// The sensitivity of an event type's content. Conclusions that decisions rest
/// on (the discipline opinion's verdict, a joint review's outcome) stay
/// process facts: decision-makers must see them (DOMAIN-DETAIL.md §6).
pub fn sensitivity_of(event_type: &str) -> Sensitivity {
    match event_type {
        "check.archive_reviewed" | "check.personal_matters_verified" => {
            Sensitivity::PersonalMatters
        }
        "petition.received"
        | "petition.investigated"
        | "petition.closed"
        | "publicity.objection_received"
        | "publicity.objection_resolved" => Sensitivity::Petition,
        _ => Sensitivity::Process,
    }
}

/// The catalogue entry for an event type.
pub fn kind_of(event_type: &str) -> Option<&'static EventKind> {
    CATALOGUE.iter().find(|k| k.event_type == event_type)
}

/// `election/<election_id>`: the stream of election-level events.
pub fn election_stream(election_id: &str) -> String {
    format!("election/{election_id}")
}

/// `election/<election_id>/candidate/<candidate_id>`.
pub fn candidate_stream(election_id: &str, candidate_id: &str) -> String {
    format!("election/{election_id}/candidate/{candidate_id}")
}

/// Whether a stream belongs to an election (its own stream or one of its candidate
/// streams): the consistency boundary whose events `decide` must see. Compared by
/// segment, so `election/a` does not claim `election/ab`.
pub fn stream_in_election(stream: &str, election_id: &str) -> bool {
    parse_stream(stream).is_some_and(|(e, _)| e == election_id)
}

/// Splits `election/<e>` or `election/<e>/candidate/<c>` into its ids.
pub fn parse_stream(stream: &str) -> Option<(&str, Option<&str>)> {
    let parts: Vec<&str> = stream.split('/').collect();
    match parts.as_slice() {
        ["election", e] if !e.is_empty() => Some((e, None)),
        ["election", e, "candidate", c] if !e.is_empty() && !c.is_empty() => Some((e, Some(c))),
        _ => None,
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}) — {} stream",
            self.event_type,
            self.label,
            self.scope.as_str()
        )?;
        for field in self.fields {
            writeln!(
                f,
                "  {:<28} {:<24} {}",
                field.name,
                field.ty.replace(' ', ""),
                field.doc
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_restricted_type_is_in_the_catalogue() {
        let restricted: Vec<&str> = CATALOGUE
            .iter()
            .map(|k| k.event_type)
            .filter(|t| sensitivity_of(t) != Sensitivity::Process)
            .collect();
        // A misspelt type in `sensitivity_of` would silently fall to Process.
        assert_eq!(restricted.len(), 7, "{restricted:?}");
        assert_eq!(
            sensitivity_of("check.personal_matters_verified"),
            Sensitivity::PersonalMatters
        );
        assert_eq!(sensitivity_of("petition.received"), Sensitivity::Petition);
        assert_eq!(sensitivity_of("committee.decided"), Sensitivity::Process);
    }

    #[test]
    fn streams_parse_by_segment() {
        assert_eq!(parse_stream("election/e1"), Some(("e1", None)));
        assert_eq!(
            parse_stream("election/e1/candidate/c1"),
            Some(("e1", Some("c1")))
        );
        assert_eq!(parse_stream("election/e1/x/c1"), None);
        assert!(stream_in_election("election/a/candidate/c", "a"));
        assert!(!stream_in_election("election/ab", "a"));
        assert_eq!(
            parse_stream(&candidate_stream("e", "c")),
            Some(("e", Some("c")))
        );
    }

    #[test]
    fn catalogue_types_are_unique_dotted_and_do_not_use_header_keys() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in CATALOGUE {
            assert!(
                seen.insert(kind.event_type),
                "duplicate {}",
                kind.event_type
            );
            assert!(kind.event_type.contains('.'));
            assert_eq!(kind.event_type, kind.event_type.to_lowercase());
            for f in kind.fields {
                assert!(
                    !HEADER_KEYS.contains(&f.name),
                    "{} uses header key {}",
                    kind.event_type,
                    f.name
                );
            }
        }
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let payload = serde_json::json!({
            "election_id": "e1", "occurred_at": "2021-04-01T09:00:00+08:00",
            "unit_id": "u", "unit_name": "n", "unit_org": "o", "body": "b", "kind": "k",
            "seats": "seven", "term": "t"
        });
        let err = DomainEvent::from_parts("election.opened", 1, &payload).unwrap_err();
        assert!(
            matches!(&err, EventError::InvalidField { field, .. } if field == "seats"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_field_is_named_and_an_unknown_one_refused() {
        let base = serde_json::json!({
            "election_id": "e1", "candidate_id": "c1",
            "occurred_at": "2021-04-01T09:00:00+08:00",
        });
        let err = DomainEvent::from_parts("candidate.shortlisted", 1, &base).unwrap_err();
        assert!(err.to_string().contains("basis"), "{err}");
        let mut extra = base.clone();
        extra["basis"] = "x".into();
        extra["bassis"] = "x".into();
        let err = DomainEvent::from_parts("candidate.shortlisted", 1, &extra).unwrap_err();
        assert!(err.to_string().contains("bassis"), "{err}");
        let err = DomainEvent::from_parts("candidate.shortlisted", 2, &extra).unwrap_err();
        assert!(matches!(
            err,
            EventError::UnsupportedVersion { found: 2, .. }
        ));
    }
}
