//! What a form asks for, derived from the event catalogue: one input per
//! field of the kind, its widget chosen from the field's Rust type (the
//! catalogue states it as text, as `jishi record --list` prints it), and
//! the submitted pairs read back into the JSON object that
//! `Command::from_json` takes, the same object the API and `jishi record
//! --json` take. Nothing here knows a step by name: a field added to the
//! catalogue gets an input, and a type with no widget fails a test.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use jishi_projections::EventKind;
use serde_json::{Map, Number, Value};

use crate::labels;

/// How one field is typed in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Widget {
    Text,
    /// Several lines: summaries, findings, reasons.
    LongText,
    Integer,
    Decimal,
    /// A checkbox: unticked is `false`.
    Bool,
    Date,
    /// One of the enumeration's values.
    Choice(&'static [(&'static str, &'static str)]),
    /// Person ids: the people the election already names as ticks, and a
    /// box for others (one a line, or separated by commas or 、).
    People,
    /// Free text, one item a line.
    Lines,
    /// A number per candidate of the election (a vote tally).
    Tally,
    /// An object of whole numbers (a recommendation tally).
    Numbers(&'static [(&'static str, &'static str)]),
    /// A list of records, a fixed number of rows; blank rows are left out.
    Rows(&'static [Sub]),
    /// A JSON object, typed as text.
    Json,
    /// A recordable event type.
    EventType,
    /// A built-in procedure kind.
    ProcedureKind,
    /// A step of the procedure in force.
    Step,
    /// Filled in by jishi (the granter, a digest): not asked for.
    Hidden,
}

/// One column of a [`Widget::Rows`] list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sub {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: SubKind,
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubKind {
    Text,
    Bool,
    /// Ids, separated by commas, 、 or spaces.
    Ids,
    Choice(&'static [(&'static str, &'static str)]),
}

const fn sub(name: &'static str, label: &'static str, kind: SubKind) -> Sub {
    Sub {
        name,
        label,
        kind,
        optional: false,
    }
}

const DISCREPANCY: &[Sub] = &[
    sub("field", "项目", SubKind::Text),
    sub("note", "出入情况", SubKind::Text),
    sub("resolved", "已查清", SubKind::Bool),
];
const VERDICTS: &[Sub] = &[
    sub("department", "部门", SubKind::Text),
    sub(
        "verdict",
        "意见",
        SubKind::Choice(&[
            ("passed", "通过"),
            ("adjusted", "调整"),
            ("failed", "未通过"),
        ]),
    ),
    Sub {
        name: "note",
        label: "说明",
        kind: SubKind::Text,
        optional: true,
    },
];
const PROXIES: &[Sub] = &[
    sub("holder_id", "受托人编号", SubKind::Text),
    sub("giver_ids", "委托人编号", SubKind::Ids),
    sub("committee_approved", "经选举委员会同意", SubKind::Bool),
];
const BOXES: &[Sub] = &[
    sub("box_id", "票箱编号", SubKind::Text),
    sub("made_by_committee", "选举委员会制作", SubKind::Bool),
    sub("scrutineers", "监票人编号", SubKind::Ids),
    sub("sealed", "已封口", SubKind::Bool),
    sub("signed", "已签名", SubKind::Bool),
    sub("voters_registered", "投票人已登记", SubKind::Bool),
];
const ROLLS: &[Sub] = &[
    sub("box_id", "票箱编号", SubKind::Text),
    sub("voter_ids", "选民编号", SubKind::Ids),
];

/// Text fields that take more than a line.
const LONG: &[&str] = &[
    "summary",
    "findings",
    "rationale",
    "observations",
    "result",
    "resolution",
    "justification",
    "reason",
    "content",
    "note",
    "basis",
    "corrective_order",
];

/// One input of a form.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    /// The catalogue's own description (English), shown small under the input.
    pub doc: &'static str,
    pub widget: Widget,
    pub required: bool,
}

/// The widget for a field of `event_type` named `name` of Rust type `ty`,
/// `None` for a type no widget reads (a test keeps that from happening).
pub fn widget_for(event_type: &str, name: &str, ty: &str, doc: &str) -> Option<Widget> {
    let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    if doc.contains("filled in by jishi") {
        return Some(Widget::Hidden);
    }
    match (event_type, name) {
        (_, "excused_event_type") => return Some(Widget::EventType),
        ("election.opened", "kind") => return Some(Widget::ProcedureKind),
        ("supervision.visited", "step") => return Some(Widget::Step),
        (_, "nonconformities") => return Some(Widget::Lines),
        _ => {}
    }
    if let Some(c) = labels::choices(&ty) {
        return Some(Widget::Choice(c));
    }
    Some(match ty.as_str() {
        "String" | "Option<String>" if LONG.contains(&name) => Widget::LongText,
        "String" | "Option<String>" => Widget::Text,
        // A person reference is typed (or pasted) as made by `jishi record
        // --id-number`; the server holds no person key (domain decision 30).
        "Option<PersonRef>" => Widget::Text,
        "u32" | "u64" | "Option<u32>" | "Option<u64>" => Widget::Integer,
        "f64" | "Option<f64>" => Widget::Decimal,
        "bool" => Widget::Bool,
        "NaiveDate" | "Option<NaiveDate>" => Widget::Date,
        "Vec<String>" => Widget::People,
        "BTreeMap<String,u64>" => Widget::Tally,
        "Option<RecommendationVotes>" => {
            Widget::Numbers(&[("received", "得票"), ("total", "参加推荐人数")])
        }
        "Vec<Discrepancy>" => Widget::Rows(DISCREPANCY),
        "Vec<DepartmentVerdict>" => Widget::Rows(VERDICTS),
        "Vec<Proxy>" => Widget::Rows(PROXIES),
        "Vec<MobileBox>" => Widget::Rows(BOXES),
        "Vec<MobileBoxRoll>" => Widget::Rows(ROLLS),
        "Option<Value>" => Widget::Json,
        _ => return None,
    })
}

/// The inputs of a kind's form, in catalogue order.
pub fn fields_of(kind: &EventKind) -> Vec<FieldSpec> {
    kind.fields
        .iter()
        .map(|f| FieldSpec {
            name: f.name,
            label: labels::field(kind.event_type, f.name),
            doc: f.doc,
            widget: widget_for(kind.event_type, f.name, f.ty, f.doc).unwrap_or(Widget::Json),
            required: !f.optional()
                && !matches!(
                    widget_for(kind.event_type, f.name, f.ty, f.doc),
                    Some(Widget::Bool | Widget::Hidden)
                ),
        })
        .collect()
}

/// A field the form could not read, named by its Chinese label and its
/// identifier, with the reason; nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub label: String,
    pub reason: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}（{}）：{}", self.label, self.field, self.reason)
    }
}

/// The submitted form: every name with every value, in order (a ticked
/// list sends one name several times).
#[derive(Debug, Clone, Default)]
pub struct Values(pub Vec<(String, String)>);

impl Values {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, trimmed, `None` when absent or blank.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, key: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == key && v == value)
    }
}

/// The form's name for a field's input.
pub fn key(name: &str) -> String {
    format!("f.{name}")
}

/// Ids typed in a box: separated by line breaks, commas (also full-width),
/// 、 or spaces; blanks dropped.
pub fn split_ids(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | ';' | '；'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whole number from a form value, or a reason in Chinese and English.
fn whole(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| format!("“{text}”不是非负整数 not a whole number"))
}

/// How many rows a list of records offers.
pub const ROWS: usize = 3;

/// Reads one field's inputs into its JSON value; `Ok(None)` leaves the
/// field out (blank and optional, or a bool left unticked where the
/// catalogue defaults it).
fn read_field(
    event_type: &str,
    spec: &FieldSpec,
    values: &Values,
    candidates: &[String],
) -> Result<Option<Value>, String> {
    let k = key(spec.name);
    let text = values.text(&k);
    Ok(match spec.widget {
        Widget::Hidden => None,
        Widget::Text
        | Widget::LongText
        | Widget::EventType
        | Widget::ProcedureKind
        | Widget::Step
        | Widget::Choice(_) => text.map(|t| Value::String(t.to_string())),
        Widget::Integer => match text {
            Some(t) => Some(Value::Number(whole(t)?.into())),
            None => None,
        },
        Widget::Decimal => match text {
            Some(t) => {
                let x: f64 = t
                    .parse()
                    .map_err(|_| format!("“{t}”不是数 not a number, e.g. 0.2"))?;
                Some(Value::Number(
                    Number::from_f64(x).ok_or_else(|| format!("“{t}” is not a finite number"))?,
                ))
            }
            None => None,
        },
        Widget::Bool => Some(Value::Bool(values.has(&k, "on") || values.has(&k, "true"))),
        Widget::Date => match text {
            Some(t) => {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| format!("“{t}”不是日期 not a date (YYYY-MM-DD)"))?;
                Some(Value::String(t.to_string()))
            }
            None => None,
        },
        Widget::People => {
            let mut ids: Vec<String> = values
                .all(&k)
                .into_iter()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            if let Some(more) = values.get(&format!("{k}.more")) {
                ids.extend(split_ids(more));
            }
            let mut seen = std::collections::BTreeSet::new();
            ids.retain(|id| seen.insert(id.clone()));
            Some(Value::Array(ids.into_iter().map(Value::String).collect()))
        }
        Widget::Lines => {
            let lines: Vec<Value> = text
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Value::String(l.to_string()))
                .collect();
            Some(Value::Array(lines))
        }
        Widget::Tally => {
            let mut tally = Map::new();
            for c in candidates {
                if let Some(t) = values.text(&format!("{k}.{c}")) {
                    let n = whole(t).map_err(|e| format!("{c}: {e}"))?;
                    tally.insert(c.clone(), Value::Number(n.into()));
                }
            }
            Some(Value::Object(tally))
        }
        Widget::Numbers(parts) => {
            let given: Vec<_> = parts
                .iter()
                .map(|(p, _)| (p, values.text(&format!("{k}.{p}"))))
                .collect();
            if given.iter().all(|(_, v)| v.is_none()) {
                None
            } else {
                let mut o = Map::new();
                for (p, v) in given {
                    let v = v.ok_or_else(|| format!("{p}: 未填 missing"))?;
                    o.insert(p.to_string(), Value::Number(whole(v)?.into()));
                }
                Some(Value::Object(o))
            }
        }
        Widget::Rows(subs) => {
            let mut rows = Vec::new();
            for i in 0..row_count(event_type, spec, values) {
                let at = |s: &str| format!("{k}.{i}.{s}");
                let blank = subs
                    .iter()
                    .filter(|s| s.kind != SubKind::Bool)
                    .all(|s| values.text(&at(s.name)).is_none());
                if blank {
                    continue;
                }
                let mut o = Map::new();
                for s in subs.iter() {
                    let v = values.text(&at(s.name));
                    let value = match s.kind {
                        SubKind::Bool => Value::Bool(values.has(&at(s.name), "on")),
                        SubKind::Ids => Value::Array(
                            split_ids(v.unwrap_or_default())
                                .into_iter()
                                .map(Value::String)
                                .collect(),
                        ),
                        SubKind::Text | SubKind::Choice(_) => match v {
                            Some(v) => Value::String(v.to_string()),
                            None if s.optional => continue,
                            None => {
                                return Err(format!(
                                    "第{}行 row {}: {}（{}）未填 missing",
                                    i + 1,
                                    i + 1,
                                    s.label,
                                    s.name
                                ))
                            }
                        },
                    };
                    o.insert(s.name.to_string(), value);
                }
                rows.push(Value::Object(o));
            }
            Some(Value::Array(rows))
        }
        Widget::Json => match text {
            Some(t) => Some(
                serde_json::from_str::<Value>(t)
                    .ok()
                    .filter(Value::is_object)
                    .ok_or("须为 JSON 对象 must be a JSON object, e.g. {\"name\": \"李明\"}")?,
            ),
            None => None,
        },
    })
}

/// Rows offered (and read) for a list: the form says how many it sent, so
/// that a form the server offered with more rows (one per department of the
/// joint review) is read whole.
pub fn row_count(_event_type: &str, spec: &FieldSpec, values: &Values) -> usize {
    values
        .text(&format!("{}.rows", key(spec.name)))
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(ROWS, |n| n.min(64))
}

/// `datetime-local` text (`2021-04-12T09:00`, seconds optional) read as
/// Beijing time, in RFC 3339.
pub fn occurred_at(text: &str) -> Result<String, String> {
    let t = text.trim();
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map_err(|_| format!("“{t}”不是时间 not a time: e.g. 2021-04-12T09:00 (北京时间)"))?;
    let at = labels::beijing()
        .from_local_datetime(&naive)
        .single()
        .ok_or_else(|| format!("“{t}” is not a time in Beijing"))?;
    Ok(at.to_rfc3339())
}

/// The input (and sheet column) for a nominee's national id number: never a
/// field of the event. With the server's person key it becomes the keyed
/// `person_ref` (domain decisions 30 and 34); the number is not recorded.
pub const ID_NUMBER: &str = "id_number";

/// Replaces a typed id number in `values` by its keyed reference, as
/// `f.person_ref`; an error names the field when there is no key or the
/// number is not one. Values without an id number are left alone.
pub fn id_number_to_ref(values: &mut Values, key: Option<&[u8; 32]>) -> Result<(), FieldError> {
    let Some(number) = values.text(ID_NUMBER).map(str::to_string) else {
        return Ok(());
    };
    let error = |reason: String| FieldError {
        field: ID_NUMBER.into(),
        label: "身份证号".into(),
        reason,
    };
    let key = key.ok_or_else(|| {
        error(
            "本服务未配置人员密钥，不能录入身份证号 this server holds no person key \
             (jishi serve --person-key FILE): the number is never recorded in clear"
                .into(),
        )
    })?;
    if values.text(&key_of_ref()).is_some() {
        return Err(error(
            "填身份证号或人员关联码，不可两者都填 give the id number or the reference, not both"
                .into(),
        ));
    }
    let r = jishi_projections::person::PersonRef::of_id_number(key, &number)
        .map_err(|e| error(e.to_string()))?;
    values
        .0
        .retain(|(k, _)| k != ID_NUMBER && k != &key_of_ref());
    values.0.push((key_of_ref(), r.to_string()));
    Ok(())
}

fn key_of_ref() -> String {
    key("person_ref")
}

/// The header a form sends beside the kind's own fields.
pub struct Header<'a> {
    pub election_id: &'a str,
    pub candidate_id: Option<&'a str>,
}

/// The JSON object of the command the form describes, or every field
/// error at once (so that a clerk fixes them in one go).
pub fn command_json(
    kind: &EventKind,
    header: Header<'_>,
    values: &Values,
    candidates: &[String],
) -> Result<Value, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut map = Map::new();
    map.insert(
        "election_id".into(),
        Value::String(header.election_id.to_string()),
    );
    if let Some(c) = header.candidate_id {
        map.insert("candidate_id".into(), Value::String(c.to_string()));
    }
    match values.text("occurred_at").map(occurred_at) {
        Some(Ok(t)) => {
            map.insert("occurred_at".into(), Value::String(t));
        }
        Some(Err(reason)) => errors.push(FieldError {
            field: "occurred_at".into(),
            label: labels::header_label("occurred_at").into(),
            reason,
        }),
        None => errors.push(FieldError {
            field: "occurred_at".into(),
            label: labels::header_label("occurred_at").into(),
            reason: "未填 missing".into(),
        }),
    }
    for spec in fields_of(kind) {
        match read_field(kind.event_type, &spec, values, candidates) {
            Ok(Some(v)) => {
                map.insert(spec.name.to_string(), v);
            }
            Ok(None) if spec.required => errors.push(FieldError {
                field: spec.name.into(),
                label: spec.label.into(),
                reason: "未填 missing (required)".into(),
            }),
            Ok(None) => {}
            Err(reason) => errors.push(FieldError {
                field: spec.name.into(),
                label: spec.label.into(),
                reason,
            }),
        }
    }
    if let Some(rule) = values.text("override_rule") {
        map.insert(
            "override".into(),
            serde_json::json!({
                "rule": rule,
                "justification": values.text("override_justification").unwrap_or_default(),
            }),
        );
    }
    if errors.is_empty() {
        Ok(Value::Object(map))
    } else {
        Err(errors)
    }
}

/// Every field type of the catalogue, with the widget it gets: for the
/// test that none is left without one.
pub fn unread_types() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for kind in jishi_projections::Command::kinds() {
        for f in kind.fields {
            if widget_for(kind.event_type, f.name, f.ty, f.doc).is_none() {
                out.insert(format!("{}.{}", kind.event_type, f.name), f.ty.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_projections::{kind_of, Command};

    fn values(pairs: &[(&str, &str)]) -> Values {
        Values(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn every_field_type_of_the_catalogue_has_a_widget() {
        assert!(unread_types().is_empty(), "{:?}", unread_types());
    }

    #[test]
    fn a_nomination_form_reads_into_the_command_the_api_takes() {
        let kind = kind_of("candidate.nominated").expect("kind");
        let v = values(&[
            ("occurred_at", "2021-04-14T09:30"),
            ("f.name", "李明"),
            ("f.sex", "male"),
            ("f.birth_date", "1985-03-02"),
            ("f.current_post", "副镇长"),
            ("f.township_work_years", "6"),
            ("f.incumbent", "on"),
            ("f.method", "meeting"),
            ("f.nominator_id", "qs-party"),
            ("f.nominator_name", "青山镇党委"),
            ("f.recommendation_votes.received", "31"),
            ("f.recommendation_votes.total", "50"),
        ]);
        let json = command_json(
            kind,
            Header {
                election_id: "天元区:qs",
                candidate_id: Some("c-01"),
            },
            &v,
            &[],
        )
        .expect("reads");
        assert_eq!(json["occurred_at"], "2021-04-14T09:30:00+08:00");
        assert_eq!(json["incumbent"], true);
        assert_eq!(json["exchanged"], false);
        assert_eq!(json["recommendation_votes"]["received"], 31);
        assert!(json.get("ethnicity").is_none());
        let cmd = Command::from_json("candidate.nominated", json).expect("a command");
        assert_eq!(cmd.candidate_id.as_deref(), Some("c-01"));
    }

    #[test]
    fn bad_input_names_every_field_and_its_reason() {
        let kind = kind_of("candidate.nominated").expect("kind");
        let v = values(&[
            ("occurred_at", "yesterday"),
            ("f.township_work_years", "six"),
            ("f.birth_date", "1985-13-40"),
            ("f.recommendation_votes.received", "31"),
        ]);
        let errors = command_json(
            kind,
            Header {
                election_id: "e",
                candidate_id: Some("c"),
            },
            &v,
            &[],
        )
        .expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "occurred_at",
            "township_work_years",
            "birth_date",
            "recommendation_votes",
            "name",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        let name = errors.iter().find(|e| e.field == "name").expect("name");
        assert_eq!(name.label, "姓名");
    }

    #[test]
    fn lists_tallies_and_rows_read_as_the_catalogue_types_them() {
        let kind = kind_of("vote.held").expect("kind");
        let v = values(&[
            ("occurred_at", "2021-05-12 09:00"),
            ("f.round", "1"),
            ("f.ballots_issued", "60"),
            ("f.ballots_returned", "58"),
            ("f.ballots_valid", "57"),
            ("f.votes.c-01", "50"),
            ("f.votes.c-02", ""),
            ("f.scrutineers", "jp-01"),
            ("f.scrutineers.more", "jp-02、jp-03\njp-01"),
            ("f.mobile_boxes.0.box_id", "ld-1"),
            ("f.mobile_boxes.0.scrutineers", "jp-04, jp-05"),
            ("f.mobile_boxes.0.sealed", "on"),
            ("f.electors", "60"),
        ]);
        let json = command_json(
            kind,
            Header {
                election_id: "e",
                candidate_id: None,
            },
            &v,
            &["c-01".into(), "c-02".into()],
        )
        .expect("reads");
        assert_eq!(json["votes"], serde_json::json!({"c-01": 50}));
        assert_eq!(
            json["scrutineers"],
            serde_json::json!(["jp-01", "jp-02", "jp-03"])
        );
        assert_eq!(json["mobile_boxes"][0]["scrutineers"][1], "jp-05");
        assert_eq!(json["mobile_boxes"][0]["sealed"], true);
        assert_eq!(json["mobile_boxes"][0]["signed"], false);
        assert_eq!(json["mobile_boxes"].as_array().map(Vec::len), Some(1));
        assert_eq!(json["proxies"], serde_json::json!([]));
        Command::from_json("vote.held", json).expect("a command");
    }

    #[test]
    fn times_are_read_as_beijing_time() {
        assert_eq!(
            occurred_at("2021-04-12T09:00").as_deref(),
            Ok("2021-04-12T09:00:00+08:00")
        );
        assert!(occurred_at("2021-04-12").is_err());
    }
}
