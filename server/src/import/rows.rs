//! Sheet rows read into commands, each exactly as the form of its kind
//! would read it: a row's cells become the form's pairs (one column is one
//! input) and go through the forms' own `command_json` and
//! `Command::from_json`. A column is named by the field's identifier, its
//! Chinese label, or both as the template writes them ("姓名（name）");
//! parts of a field take a dot ("推荐票（recommendation_votes.received）",
//! "核对情况（discrepancies.1.field）"). Every error names the row, the
//! column and the field, so that a clerk finds the cell.

use jishi_projections::{kind_of, Command, CommandError, EventKind};

use super::sheet::{column_name, Table};
use crate::forms::spec::{self, FieldSpec, Header, SubKind, Values, Widget};
use crate::labels;

/// One row read into a command.
#[derive(Debug, Clone)]
pub struct Line {
    pub line: usize,
    pub kind: &'static EventKind,
    pub command: Command,
}

/// What is wrong with one row (or, at row 1, with the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    /// The column's letter and header, when one cell is at fault.
    pub column: Option<String>,
    pub field: String,
    pub label: String,
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "第{}行 row {}", self.line, self.line)?;
        if let Some(c) = &self.column {
            write!(f, "，{c}")?;
        }
        write!(f, "：{}（{}）：{}", self.label, self.field, self.reason)
    }
}

/// The headers a kind column may have.
const KIND_HEADERS: &[&str] = &["kind", "event_type", "环节", "类型", "事件类型"];

/// Where a column's values go for one kind.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Candidate,
    OccurredAt,
    /// A nominee's id number: turned into its keyed reference with the
    /// server's person key, never recorded (domain decision 34).
    IdNumber,
    Field(FieldSpec, Option<String>),
}

/// The ways a header may be read: whole, the part in brackets (the
/// template's "label（name）"), the part before them; a trailing `*` (the
/// template's mark of a required column) dropped.
fn readings(header: &str) -> Vec<String> {
    let h = header.trim().trim_end_matches(['*', '＊']).trim();
    let mut out = vec![h.to_string()];
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let (Some(a), true) = (h.rfind(open), h.ends_with(close)) {
            let inner = &h[a + open.len_utf8()..h.len() - close.len_utf8()];
            out.push(inner.trim().to_string());
            out.push(h[..a].trim().to_string());
        }
    }
    out
}

fn is_kind_header(header: &str) -> bool {
    readings(header)
        .iter()
        .any(|r| KIND_HEADERS.contains(&r.as_str()))
}

/// The target of `header` in `kind`'s form, if it has one: the first of
/// its readings that names a field.
fn resolve(kind: &EventKind, header: &str) -> Option<Target> {
    readings(header).iter().find_map(|r| resolve_one(kind, r))
}

/// The target one reading of a header names.
fn resolve_one(kind: &EventKind, r: &str) -> Option<Target> {
    match r {
        "" => return None,
        "candidate_id" | "人选编号" => return Some(Target::Candidate),
        spec::ID_NUMBER | "身份证号" | "身份证号码" if kind.event_type == "candidate.nominated" => {
            return Some(Target::IdNumber)
        }
        "occurred_at" | "发生时间（北京时间）" | "发生时间" | "时间" => {
            return Some(Target::OccurredAt)
        }
        _ => {}
    }
    let (base, rest) = match r.split_once('.') {
        Some((b, rest)) => (b, Some(rest.to_string())),
        None => (r, None),
    };
    spec::fields_of(kind)
        .into_iter()
        .find(|f| f.widget != Widget::Hidden && (f.name == base || f.label == base))
        .map(|f| Target::Field(f, rest))
}

/// Why `header` cannot be read in `kind`'s form although it names a field:
/// its label and its bracketed identifier name two different fields
/// ("性别（name）"), so either reading would be a guess.
fn conflict(kind: &EventKind, header: &str) -> Option<String> {
    let r = readings(header);
    if r.len() < 3 {
        return None;
    }
    let (inner, outer) = (resolve_one(kind, &r[1]), resolve_one(kind, &r[2]));
    match (inner, outer) {
        (Some(a), Some(b)) if a != b => Some(format!(
            "“{}”与“{}”是两个不同的字段 the label and the identifier name different fields",
            r[2], r[1]
        )),
        _ => None,
    }
}

/// A recordable kind by its identifier or its Chinese name; an election is
/// opened through its own form, not imported into.
pub fn kind_named(text: &str) -> Option<&'static EventKind> {
    let t = text.trim();
    kind_of(t)
        .or_else(|| Command::kinds().find(|k| k.label == t))
        .filter(|k| k.recordable && k.event_type != "election.opened")
}

const YES: &[&str] = &[
    "是", "√", "✓", "✔", "y", "yes", "true", "1", "on", "x", "有",
];
const NO: &[&str] = &["否", "n", "no", "false", "0", "off", "无", "×"];

fn yes_no(v: &str) -> Result<bool, String> {
    let t = v.trim().to_lowercase();
    if YES.contains(&t.as_str()) {
        Ok(true)
    } else if NO.contains(&t.as_str()) || t.is_empty() {
        Ok(false)
    } else {
        Err(format!("“{v}”不是 是/否 not yes or no"))
    }
}

/// An enumeration's value from its identifier or its Chinese name.
fn choice(options: &[(&str, &str)], v: &str) -> Result<String, String> {
    let t = v.trim();
    options
        .iter()
        .find(|(value, label)| *value == t || *label == t)
        .map(|(value, _)| value.to_string())
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(_, l)| *l).collect();
            format!("“{v}”不是可选值 not one of: {}", names.join("、"))
        })
}

/// A date typed as 2021-04-14, 2021/4/14 or 2021.4.14, as the form's
/// YYYY-MM-DD; anything else unchanged (the form then names it).
fn date(v: &str) -> String {
    let t = v.trim().replace(['/', '.'], "-");
    chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| v.trim().to_string())
}

/// A cell's pairs for the form of its target.
fn pairs(target: &Target, v: &str, rows: &mut usize) -> Result<Vec<(String, String)>, String> {
    let (f, rest) = match target {
        Target::Candidate => return Ok(vec![("candidate_id".into(), v.trim().into())]),
        Target::IdNumber => return Ok(vec![(spec::ID_NUMBER.into(), v.trim().into())]),
        Target::OccurredAt => {
            let t = v.trim().replace('/', "-");
            return Ok(vec![("occurred_at".into(), t)]);
        }
        Target::Field(f, rest) => (f, rest.as_deref()),
    };
    let key = spec::key(f.name);
    let no_part = |out: Vec<(String, String)>| match rest {
        Some(r) => Err(format!("此字段没有“.{r}”部分 the field has no part “{r}”")),
        None => Ok(out),
    };
    match f.widget {
        Widget::Bool => no_part(if yes_no(v)? {
            vec![(key, "on".into())]
        } else {
            Vec::new()
        }),
        Widget::Choice(options) => no_part(vec![(key, choice(options, v)?)]),
        Widget::Date => no_part(vec![(key, date(v))]),
        Widget::People => no_part(vec![(format!("{key}.more"), v.to_string())]),
        Widget::Numbers(parts) => {
            let r = rest.ok_or_else(|| {
                let names: Vec<String> = parts.iter().map(|(p, _)| format!(".{p}")).collect();
                format!("须分列填写 give it in columns {}", names.join(" "))
            })?;
            let part = parts
                .iter()
                .find(|(p, l)| *p == r || *l == r)
                .ok_or_else(|| format!("没有“{r}”部分 no part “{r}”"))?;
            Ok(vec![(format!("{key}.{}", part.0), v.to_string())])
        }
        Widget::Tally => {
            let c = rest
                .ok_or("须每位人选一列，如 votes.c-01 one column per candidate, e.g. votes.c-01")?;
            Ok(vec![(format!("{key}.{c}"), v.to_string())])
        }
        Widget::Rows(subs) => {
            let r = rest.unwrap_or_default();
            let (n, s) = r
                .split_once('.')
                .and_then(|(n, s)| Some((n.parse::<usize>().ok().filter(|n| *n >= 1)?, s)))
                .ok_or(
                    "须写作 字段.序号.项目 write it as field.N.part, e.g. discrepancies.1.field",
                )?;
            let sub = subs
                .iter()
                .find(|x| x.name == s || x.label == s)
                .ok_or_else(|| format!("没有“{s}”项 no part “{s}”"))?;
            *rows = (*rows).max(n);
            let at = format!("{key}.{}.{}", n - 1, sub.name);
            Ok(match sub.kind {
                SubKind::Bool if yes_no(v)? => vec![(at, "on".into())],
                SubKind::Bool => Vec::new(),
                SubKind::Choice(options) => vec![(at, choice(options, v)?)],
                SubKind::Text | SubKind::Ids => vec![(at, v.to_string())],
            })
        }
        _ => no_part(vec![(key, v.to_string())]),
    }
}

/// The columns of `table` and the problems of its header: which column
/// names the kind, and which header fits no kind in play.
fn header_errors(
    table: &Table,
    fixed: Option<&'static EventKind>,
) -> (Option<usize>, Vec<LineError>) {
    let kind_column = table.header.iter().position(|h| is_kind_header(h));
    let mut errors = Vec::new();
    let in_play: Vec<&'static EventKind> = match fixed {
        Some(k) => vec![k],
        None => Command::kinds()
            .filter(|k| kind_named(k.event_type).is_some())
            .collect(),
    };
    if fixed.is_none() && kind_column.is_none() {
        errors.push(LineError {
            line: 1,
            column: None,
            field: "kind".into(),
            label: "环节".into(),
            reason: "须有“环节（kind）”列，或在导入页选定一个环节 \
                     a step list needs a kind column, or choose one kind"
                .into(),
        });
    }
    for (i, h) in table.header.iter().enumerate() {
        let column = Some(format!("{}列「{h}」", column_name(i)));
        if Some(i) == kind_column {
            continue;
        }
        if h.is_empty() {
            if table
                .rows
                .iter()
                .any(|(_, cells)| cells.get(i).is_some_and(|c| !c.trim().is_empty()))
            {
                errors.push(LineError {
                    line: 1,
                    column,
                    field: "header".into(),
                    label: "表头".into(),
                    reason: "此列无表头，下方却有数据 no header, but cells below it have values"
                        .into(),
                });
            }
            continue;
        }
        if !in_play.iter().any(|k| resolve(k, h).is_some()) {
            errors.push(LineError {
                line: 1,
                column,
                field: "header".into(),
                label: "表头".into(),
                reason: match fixed {
                    Some(k) => format!("不是“{}”的字段 not a field of {}", k.label, k.event_type),
                    None => "不是任何环节的字段 not a field of any step".into(),
                },
            });
        }
    }
    if let Some(k) = fixed {
        for (i, h) in table.header.iter().enumerate() {
            if let Some(reason) = conflict(k, h) {
                errors.push(LineError {
                    line: 1,
                    column: Some(format!("{}列「{h}」", column_name(i))),
                    field: "header".into(),
                    label: "表头".into(),
                    reason,
                });
            }
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for (i, h) in table.header.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(h.clone(), i) {
            errors.push(LineError {
                line: 1,
                column: Some(format!("{}列「{h}」", column_name(i))),
                field: "header".into(),
                label: "表头".into(),
                reason: format!(
                    "与 {} 列重复 the same header as column {}",
                    column_name(first),
                    column_name(first)
                ),
            });
        }
    }
    (kind_column, errors)
}

/// Every row of `table` read into a command of `election_id`, or every
/// problem found, header first. `fixed` is the one kind of a roster; without
/// it each row names its kind. `candidates` are the election's candidate ids
/// (a tally's columns), to which the sheet's own nominations are added.
pub fn commands(
    table: &Table,
    fixed: Option<&'static EventKind>,
    election_id: &str,
    candidates: &[String],
    person_key: Option<&[u8; 32]>,
) -> (Vec<Line>, Vec<LineError>) {
    let (kind_column, mut errors) = header_errors(table, fixed);
    let mut lines = Vec::new();
    if !errors.is_empty() {
        return (lines, errors);
    }
    let mut known: Vec<String> = candidates.to_vec();
    for (line, cells) in &table.rows {
        let line = *line;
        let at = |i: usize| format!("{}列「{}」", column_name(i), table.header[i]);
        let kind = match (fixed, kind_column) {
            (Some(k), _) => k,
            (None, Some(c)) => {
                let text = cells.get(c).map(String::as_str).unwrap_or_default();
                match kind_named(text) {
                    Some(k) => k,
                    None => {
                        errors.push(LineError {
                            line,
                            column: Some(at(c)),
                            field: "kind".into(),
                            label: "环节".into(),
                            reason: if text.trim().is_empty() {
                                "未填 missing".into()
                            } else {
                                format!("“{text}”不是可导入的环节 not a kind that can be imported")
                            },
                        });
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        let mut values = Vec::new();
        let mut rows = 0;
        let mut row_errors = Vec::new();
        // The targets filled in this row so far, with their columns.
        let mut filled: Vec<(usize, Target)> = Vec::new();
        let cell_error = |i: usize, h: &str, reason: String| LineError {
            line,
            column: Some(at(i)),
            field: h.to_string(),
            label: h.to_string(),
            reason,
        };
        for (i, h) in table.header.iter().enumerate() {
            let v = cells.get(i).map(String::as_str).unwrap_or_default();
            if Some(i) == kind_column || h.is_empty() || v.trim().is_empty() {
                continue;
            }
            if let Some(reason) = conflict(kind, h) {
                row_errors.push(cell_error(i, h, reason));
                continue;
            }
            let Some(target) = resolve(kind, h) else {
                row_errors.push(cell_error(
                    i,
                    h,
                    format!(
                        "“{}”没有此字段，此格须空 {} has no such field: leave the cell blank",
                        kind.label, kind.event_type
                    ),
                ));
                continue;
            };
            if let Some(j) = filled.iter().find(|(_, t)| *t == target).map(|(j, _)| *j) {
                row_errors.push(cell_error(
                    i,
                    h,
                    format!(
                        "与 {} 列是同一字段，只可填一处 the same field as column {}: fill in one",
                        column_name(j),
                        column_name(j)
                    ),
                ));
                continue;
            }
            filled.push((i, target.clone()));
            match pairs(&target, v, &mut rows) {
                Ok(p) => values.extend(p),
                Err(reason) => {
                    let (field, label) = match &target {
                        Target::Field(f, _) => (f.name.to_string(), f.label.to_string()),
                        Target::Candidate => (
                            "candidate_id".into(),
                            labels::header_label("candidate_id").into(),
                        ),
                        Target::OccurredAt => (
                            "occurred_at".into(),
                            labels::header_label("occurred_at").into(),
                        ),
                        Target::IdNumber => (spec::ID_NUMBER.into(), "身份证号".into()),
                    };
                    row_errors.push(LineError {
                        line,
                        column: Some(at(i)),
                        field,
                        label,
                        reason,
                    });
                }
            }
        }
        if rows > 0 {
            for f in spec::fields_of(kind) {
                if matches!(f.widget, Widget::Rows(_)) {
                    values.push((format!("{}.rows", spec::key(f.name)), rows.to_string()));
                }
            }
        }
        if !row_errors.is_empty() {
            errors.extend(row_errors);
            continue;
        }
        let mut values = Values(values);
        if let Err(e) = spec::id_number_to_ref(&mut values, person_key) {
            errors.push(LineError {
                line,
                column: table
                    .header
                    .iter()
                    .position(|h| resolve(kind, h) == Some(Target::IdNumber))
                    .map(at),
                field: e.field,
                label: e.label,
                reason: e.reason,
            });
            continue;
        }
        let candidate = values.text("candidate_id").map(str::to_string);
        let column_of = |field: &str| {
            table.header.iter().position(|h| match resolve(kind, h) {
                Some(Target::Field(f, _)) => f.name == field,
                Some(Target::Candidate) => field == "candidate_id",
                Some(Target::OccurredAt) => field == "occurred_at",
                Some(Target::IdNumber) => field == spec::ID_NUMBER,
                None => false,
            })
        };
        let header = Header {
            election_id,
            candidate_id: candidate.as_deref(),
        };
        let json = match spec::command_json(kind, header, &values, &known) {
            Ok(j) => j,
            Err(field_errors) => {
                errors.extend(field_errors.into_iter().map(|e| LineError {
                    line,
                    column: column_of(&e.field).map(at),
                    field: e.field,
                    label: e.label,
                    reason: e.reason,
                }));
                continue;
            }
        };
        match Command::from_json(kind.event_type, json) {
            Ok(command) => {
                if kind.event_type == "candidate.nominated" {
                    if let Some(c) = &command.candidate_id {
                        known.push(c.clone());
                    }
                }
                lines.push(Line {
                    line,
                    kind,
                    command,
                });
            }
            Err(e) => {
                let (field, reason) = match e {
                    CommandError::Field { field, reason, .. } => (field, reason),
                    other => ("body".to_string(), other.to_string()),
                };
                errors.push(LineError {
                    line,
                    column: column_of(&field).map(at),
                    label: labels::field(kind.event_type, &field).to_string(),
                    field,
                    reason,
                });
            }
        }
    }
    (lines, errors)
}

/// Whether `header` holds id numbers in `kind`'s sheet: the preview masks
/// them.
pub fn is_id_number(kind: Option<&EventKind>, header: &str) -> bool {
    let k = kind.or_else(|| kind_named("candidate.nominated"));
    k.is_some_and(|k| resolve(k, header) == Some(Target::IdNumber))
}

/// The header row of a kind's template: every input of its form, labelled
/// in Chinese with the identifier in brackets, required ones marked `*`;
/// lists get one row's columns, a tally one column per candidate given.
pub fn template_header(kind: &EventKind, candidates: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if kind.scope != jishi_projections::Scope::Election {
        out.push("人选编号（candidate_id）*".to_string());
    }
    out.push("发生时间（occurred_at）*".to_string());
    for f in spec::fields_of(kind) {
        let star = if f.required { "*" } else { "" };
        match f.widget {
            Widget::Hidden => {}
            Widget::Numbers(parts) => {
                for (p, l) in parts {
                    out.push(format!("{}·{l}（{}.{p}）", f.label, f.name));
                }
            }
            Widget::Rows(subs) => {
                for s in subs {
                    out.push(format!(
                        "{}·{}（{}.1.{}）",
                        f.label, s.label, f.name, s.name
                    ));
                }
            }
            Widget::Tally => {
                for c in candidates {
                    out.push(format!("{}·{c}（{}.{c}）", f.label, f.name));
                }
            }
            _ => out.push(format!("{}（{}）{star}", f.label, f.name)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn importable() -> impl Iterator<Item = &'static EventKind> {
        Command::kinds().filter(|k| kind_named(k.event_type).is_some())
    }

    #[test]
    fn every_template_column_reads_back_as_a_field_of_its_kind() {
        for k in importable() {
            let header = template_header(k, &["c-01".into()]);
            let table = Table {
                format: "CSV",
                sheet: None,
                header: header.clone(),
                rows: Vec::new(),
            };
            let (_, errors) = header_errors(&table, Some(k));
            assert!(errors.is_empty(), "{}: {errors:?}", k.event_type);
            let mut targets = Vec::new();
            for h in &header {
                let t = resolve(k, h).unwrap_or_else(|| panic!("{}: {h}", k.event_type));
                assert!(!targets.contains(&t), "{}: {h} read twice", k.event_type);
                targets.push(t);
            }
        }
    }

    #[test]
    fn no_two_inputs_of_a_kind_share_a_chinese_label() {
        // A column named by its label must not be read as another field.
        for k in importable() {
            let mut seen = std::collections::BTreeSet::new();
            for f in spec::fields_of(k)
                .iter()
                .filter(|f| f.widget != Widget::Hidden)
            {
                assert!(seen.insert(f.label), "{}: {} twice", k.event_type, f.label);
            }
        }
    }

    #[test]
    fn one_field_under_two_headers_or_a_label_that_contradicts_its_identifier_is_refused() {
        let k = kind_named("candidate.nominated").expect("kind");
        let rows = vec![(2, vec!["张三".to_string(), "李四".to_string()])];
        let table = Table {
            format: "CSV",
            sheet: None,
            header: vec!["姓名".into(), "name".into()],
            rows: rows.clone(),
        };
        let (lines, errors) = commands(&table, Some(k), "e", &[], None);
        assert!(lines.is_empty());
        assert!(
            errors
                .iter()
                .any(|e| e.line == 2 && e.reason.contains("同一字段")),
            "{errors:?}"
        );
        let table = Table {
            format: "CSV",
            sheet: None,
            header: vec!["性别（name）".into()],
            rows,
        };
        let (_, errors) = commands(&table, Some(k), "e", &[], None);
        assert!(
            errors
                .iter()
                .any(|e| e.line == 1 && e.reason.contains("不同的字段")),
            "{errors:?}"
        );
    }

    #[test]
    fn an_id_number_column_becomes_the_reference_or_an_error_naming_it() {
        let k = kind_named("candidate.nominated").expect("kind");
        let table = |n: &str| Table {
            format: "CSV",
            sheet: None,
            header: vec!["身份证号".into()],
            rows: vec![(2, vec![n.to_string()])],
        };
        let key = [7u8; 32];
        let (_, errors) = commands(&table("110101198405060010"), Some(k), "e", &[], Some(&key));
        assert!(
            errors
                .iter()
                .any(|e| e.field == spec::ID_NUMBER && e.reason.contains("check")),
            "{errors:?}"
        );
        let (_, errors) = commands(&table("110101198405060014"), Some(k), "e", &[], None);
        assert!(
            errors
                .iter()
                .any(|e| e.field == spec::ID_NUMBER && e.reason.contains("person key")),
            "{errors:?}"
        );
        let (_, errors) = commands(&table("110101198405060014"), Some(k), "e", &[], Some(&key));
        assert!(
            errors.iter().all(|e| e.field != spec::ID_NUMBER),
            "{errors:?}"
        );
    }

    #[test]
    fn cells_are_read_as_a_clerk_types_them() {
        assert_eq!(yes_no("是"), Ok(true));
        assert_eq!(yes_no("√"), Ok(true));
        assert_eq!(yes_no("否"), Ok(false));
        assert_eq!(yes_no(""), Ok(false));
        assert!(yes_no("也许").is_err());
        assert_eq!(date("2021/4/14"), "2021-04-14");
        assert_eq!(date("2021.04.14"), "2021-04-14");
        assert_eq!(date("四月"), "四月");
        let sex = labels::choices("Sex").expect("sex");
        assert_eq!(choice(sex, "女").as_deref(), Ok("female"));
        assert_eq!(choice(sex, "male").as_deref(), Ok("male"));
        assert!(choice(sex, "未知").is_err());
        assert_eq!(readings("姓名（name）*")[1], "name");
        assert_eq!(readings("发生时间（北京时间）")[0], "发生时间（北京时间）");
    }

    #[test]
    fn a_kind_is_named_by_its_identifier_or_its_chinese_name_but_never_the_opening() {
        assert_eq!(
            kind_named("提名推荐").map(|k| k.event_type),
            Some("candidate.nominated")
        );
        assert_eq!(
            kind_named(" candidate.nominated ").map(|k| k.event_type),
            Some("candidate.nominated")
        );
        assert!(kind_named("election.opened").is_none());
        assert!(
            kind_named("override.recorded").is_none(),
            "decide's, not a clerk's"
        );
        assert!(kind_named("提名").is_none());
    }
}
