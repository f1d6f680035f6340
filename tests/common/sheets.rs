//! The sheets a clerk would upload (tests/server_import.rs over HTTP,
//! tests/server_browser_import.rs in Chromium), written with
//! rust_xlsxwriter, not with jishi's code: a roster of the township's
//! nominees, its columns named as people name them.

#![allow(dead_code)]

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// A cell of a sheet the test writes: text, a number, or an Excel date or
/// date-time (as a clerk's Excel stores a typed date).
pub enum C {
    S(&'static str),
    N(f64),
    Date(u16, u8, u8),
    At(u16, u8, u8, u16, u8),
}

pub fn xlsx(rows: &[Vec<C>]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let at = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (i, row) in rows.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            let (r, col) = (i as u32, j as u16);
            match c {
                C::S(s) => {
                    ws.write_string(r, col, *s).expect("cell");
                }
                C::N(n) => {
                    ws.write_number(r, col, *n).expect("cell");
                }
                C::Date(y, m, d) => {
                    let v = ExcelDateTime::from_ymd(*y, *m, *d).expect("date");
                    ws.write_datetime_with_format(r, col, &v, &date)
                        .expect("cell");
                }
                C::At(y, m, d, h, min) => {
                    let v = ExcelDateTime::from_ymd(*y, *m, *d)
                        .and_then(|v| v.and_hms(*h, *min, 0))
                        .expect("datetime");
                    ws.write_datetime_with_format(r, col, &v, &at)
                        .expect("cell");
                }
            }
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

/// The roster's header, as a clerk fills the downloaded template in: some
/// columns by the template's "label（name）", some by the Chinese label
/// alone, some by the identifier.
pub fn roster_header() -> Vec<C> {
    use C::S;
    vec![
        S("人选编号（candidate_id）*"),
        S("发生时间"),
        S("姓名"),
        S("性别（sex）"),
        S("birth_date"),
        S("现任职务"),
        S("乡镇工作年限（township_work_years）"),
        S("incumbent"),
        S("推荐方式（method）"),
        S("nominator_id"),
        S("nominator_name"),
        S("推荐票·得票（recommendation_votes.received）"),
        S("推荐票·参加推荐人数（recommendation_votes.total）"),
    ]
}

pub fn nominee(c: &'static str, name: &'static str, sex: &'static str, minute: u8) -> Vec<C> {
    use C::*;
    vec![
        S(c),
        At(2021, 4, 14, 9, minute),
        S(name),
        S(sex),
        Date(1986, 5, 20),
        S("副镇长"),
        N(6.0),
        S("是"),
        S("会议推荐"),
        S("qs-party"),
        S("青山镇党委"),
        N(31.0),
        N(50.0),
    ]
}
