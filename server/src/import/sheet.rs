//! A spreadsheet read into text cells, row by row, with the row numbers a
//! clerk sees in Excel or WPS (the header is row 1), so that every error of
//! the preview points at a cell they can find. XLSX is told from CSV by its
//! first bytes, not by the file's name; a CSV that is not UTF-8 is read as
//! GB18030, which is what Excel writes on a Chinese Windows ("CSV" rather
//! than "CSV UTF-8"), and one that mixes the two is refused.
//!
//! Nothing here trusts a file's own account of its size. A workbook is read
//! cell by cell (calamine's cell reader), never as calamine's dense range:
//! one cell at XFD1048576 in a 5 KB file would make that range half a
//! terabyte. Cells, columns, rows and each cell's length are bounded as
//! they are read.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader, SheetType, SheetVisible, Xlsx};

/// Most data rows one import takes: a roster or a step list of one
/// election is a few hundred rows at most; more is a wrong file.
pub const MAX_ROWS: usize = 2000;
/// Most columns: a kind's form has a few dozen inputs at most.
pub const MAX_COLUMNS: usize = 128;
/// Longest cell, in characters: a name, a summary, a list of ids. Together
/// with [`MAX_COLUMNS`] this keeps a row's event under the ledger's 1 MiB
/// payload limit, so that a row the preview passes can be recorded.
pub const MAX_CELL_CHARS: usize = 2000;
/// Most non-blank cells of a workbook, and the last sheet row read: more is
/// not a roster.
const MAX_CELLS: usize = MAX_ROWS * 64;
const MAX_SHEET_ROW: u32 = 20_000;

/// Most bytes an uploaded workbook may unpack to. A roster of 2,000 rows
/// is a few megabytes of XML; a file that unpacks to more is not one.
pub const MAX_UNPACKED: u64 = 64 << 20;

/// A sheet as text: its header and its non-blank rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// What the file was read as: `XLSX` or `CSV (UTF-8)` or `CSV (GB18030)`.
    pub format: &'static str,
    /// The worksheet read (the first visible one), for a workbook.
    pub sheet: Option<String>,
    pub header: Vec<String>,
    /// (row number as the spreadsheet shows it, cells), blank rows left out.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Why a file could not be read as a sheet at all (nothing of it is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("文件为空 the file is empty")]
    Empty,
    #[error("无法读取电子表格 not a readable spreadsheet: {0}")]
    Workbook(String),
    #[error("工作簿没有工作表 the workbook has no sheet")]
    NoSheet,
    #[error("第1行须为表头 row 1 must be the header: the sheet has no rows")]
    NoHeader,
    #[error(
        "CSV 既不是 UTF-8 也不是 GB18030 编码 the CSV is neither UTF-8 nor GB18030: \
         save it as \"CSV UTF-8\""
    )]
    Encoding,
    #[error("CSV 第{line}行 row {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("第{line}行 row {line}，{column}列 column {column}: 单元格为错误值 the cell holds an error ({value})")]
    Cell {
        line: usize,
        column: String,
        value: String,
    },
    #[error("超过 {MAX_ROWS} 行 more than {MAX_ROWS} rows: split the file")]
    TooMany,
    #[error("第{line}行 row {line}：超过 {MAX_COLUMNS} 列 more than {MAX_COLUMNS} columns")]
    TooWide { line: usize },
    #[error("第{line}行 row {line}，{column}列 column {column}：超过 {MAX_CELL_CHARS} 字 longer than {MAX_CELL_CHARS} characters")]
    CellTooLong { line: usize, column: String },
    #[error(
        "只读取 XLSX 工作簿 only XLSX workbooks are read: save the file as .xlsx (Excel 2007 or later) or as CSV"
    )]
    NotXlsx,
    #[error(
        "CSV 混有两种编码 the CSV mixes encodings: row {line} is not UTF-8 but rows before it are; \
         save the whole file as \"CSV UTF-8\""
    )]
    MixedEncoding { line: usize },
    #[error("解压后超过 {} MiB unpacks to more than {} MiB: not a roster", MAX_UNPACKED >> 20, MAX_UNPACKED >> 20)]
    TooLarge,
}

/// The spreadsheet column name of a 0-based index: A, B, …, Z, AA, …
pub fn column_name(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Reads `bytes` as a workbook's first sheet or as CSV.
pub fn read(bytes: &[u8]) -> Result<Table, SheetError> {
    if bytes.is_empty() {
        return Err(SheetError::Empty);
    }
    // The old binary XLS (OLE2) is not read: calamine reads it only whole.
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Err(SheetError::NotXlsx);
    }
    let (format, sheet, grid) = if bytes.starts_with(b"PK\x03\x04") {
        let (name, grid) = workbook_rows(bytes)?;
        ("XLSX", Some(name), grid)
    } else {
        let (format, grid) = csv_rows(bytes)?;
        (format, None, grid)
    };
    let mut grid = grid.into_iter();
    let header = loop {
        match grid.next() {
            Some((_, cells)) if cells.iter().all(|c| c.trim().is_empty()) => continue,
            Some((_, cells)) => break cells,
            None => return Err(SheetError::NoHeader),
        }
    };
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
    let mut rows = Vec::new();
    for (line, cells) in grid {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(SheetError::TooMany);
        }
        rows.push((line, cells));
    }
    Ok(Table {
        format,
        sheet,
        header,
        rows,
    })
}

type Grid = Vec<(usize, Vec<String>)>;

/// Unpacks every member of a ZIP container into a counting sink, stopping
/// at [`MAX_UNPACKED`] bytes in all: the sizes a ZIP declares are not to be
/// trusted, only what inflating it yields. (XLS is not a ZIP and is read
/// as it is: its size is its size.)
fn unpacked_within_limit(bytes: &[u8]) -> Result<(), SheetError> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(());
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| SheetError::Workbook(e.to_string()))?;
    let mut left = MAX_UNPACKED;
    for i in 0..zip.len() {
        let mut member = zip
            .by_index(i)
            .map_err(|e| SheetError::Workbook(e.to_string()))?;
        let n = std::io::copy(
            &mut std::io::Read::take(&mut member, left + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| SheetError::Workbook(e.to_string()))?;
        if n > left {
            return Err(SheetError::TooLarge);
        }
        left -= n;
    }
    Ok(())
}

/// The first visible worksheet of an XLSX, cell by cell, into rows: its
/// name and its non-blank rows with their sheet numbers. A hidden sheet is
/// not what the clerk sees when opening the file, so it is not read.
fn workbook_rows(bytes: &[u8]) -> Result<(String, Grid), SheetError> {
    unpacked_within_limit(bytes)?;
    let bad = |e: calamine::XlsxError| SheetError::Workbook(e.to_string());
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(bad)?;
    let name = book
        .sheets_metadata()
        .iter()
        .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or(SheetError::NoSheet)?;
    let mut reader = book.worksheet_cells_reader(&name).map_err(bad)?;
    let mut rows: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    let mut count = 0;
    while let Some(cell) = reader.next_cell().map_err(bad)? {
        let (r, c) = cell.get_position();
        let line = r as usize + 1;
        let text =
            cell_text(&Data::from(cell.get_value().clone())).map_err(|value| SheetError::Cell {
                line,
                column: column_name(c as usize),
                value,
            })?;
        if text.trim().is_empty() {
            continue;
        }
        if r > MAX_SHEET_ROW {
            return Err(SheetError::TooMany);
        }
        if c as usize >= MAX_COLUMNS {
            return Err(SheetError::TooWide { line });
        }
        if text.chars().count() > MAX_CELL_CHARS {
            return Err(SheetError::CellTooLong {
                line,
                column: column_name(c as usize),
            });
        }
        count += 1;
        if count > MAX_CELLS {
            return Err(SheetError::TooMany);
        }
        rows.entry(r).or_default().push((c, text));
    }
    let grid = rows
        .into_iter()
        .map(|(r, cells)| {
            let width = cells
                .iter()
                .map(|(c, _)| *c as usize + 1)
                .max()
                .unwrap_or(0);
            let mut row = vec![String::new(); width];
            for (c, text) in cells {
                row[c as usize] = text;
            }
            (r as usize + 1, row)
        })
        .collect();
    Ok((name, grid))
}

/// A cell as the text a form would have had typed in it: a whole number
/// without ".0", a date as YYYY-MM-DD, a date and time as YYYY-MM-DD HH:MM
/// (read as Beijing time, as every time a clerk types is).
fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
            None => return Err(format!("{d}")),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("{e}")),
    })
}

/// The first line (1-based) holding non-ASCII bytes that are not UTF-8,
/// when a line before it holds non-ASCII UTF-8: a file of two encodings.
fn mixed_encoding(bytes: &[u8]) -> Option<usize> {
    let mut utf8_seen = false;
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_ascii() {
            continue;
        }
        match std::str::from_utf8(line) {
            Ok(_) => utf8_seen = true,
            Err(_) if utf8_seen => return Some(i + 1),
            Err(_) => return None,
        }
    }
    None
}

fn csv_rows(bytes: &[u8]) -> Result<(&'static str, Grid), SheetError> {
    let (format, text) = match std::str::from_utf8(bytes) {
        Ok(t) => ("CSV (UTF-8)", t.trim_start_matches('\u{feff}').to_string()),
        Err(_) => {
            if let Some(line) = mixed_encoding(bytes) {
                return Err(SheetError::MixedEncoding { line });
            }
            (
                "CSV (GB18030)",
                encoding_rs::GB18030
                    .decode_without_bom_handling_and_without_replacement(bytes)
                    .ok_or(SheetError::Encoding)?
                    .into_owned(),
            )
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    // The csv reader skips blank lines, which are rows in a spreadsheet,
    // and its own line count does not count them; a quoted cell over
    // several lines is one row. So a record's row is counted here: the line
    // breaks before the record's first byte (its position is where the
    // reader began, blank lines included), less those inside earlier cells.
    let bytes = text.as_bytes();
    let (mut counted_to, mut breaks, mut inner_breaks) = (0usize, 0usize, 0usize);
    for record in reader.records() {
        let record = record.map_err(|e| SheetError::Csv {
            line: e.position().map_or(0, |p| p.line() as usize),
            reason: e.to_string(),
        })?;
        let mut start = record.position().map_or(0, |p| p.byte() as usize);
        while matches!(bytes.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        let start = start.max(counted_to).min(bytes.len());
        breaks += bytes[counted_to..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = start;
        let line = breaks + 1 - inner_breaks;
        inner_breaks += record
            .iter()
            .map(|f| f.matches('\n').count())
            .sum::<usize>();
        if record.len() > MAX_COLUMNS {
            return Err(SheetError::TooWide { line });
        }
        if let Some(i) = record
            .iter()
            .position(|f| f.chars().count() > MAX_CELL_CHARS)
        {
            return Err(SheetError::CellTooLong {
                line,
                column: column_name(i),
            });
        }
        if out.len() > MAX_ROWS + 1 && record.iter().any(|f| !f.trim().is_empty()) {
            return Err(SheetError::TooMany);
        }
        out.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok((format, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_named_as_a_spreadsheet_names_them() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }

    #[test]
    fn csv_rows_keep_their_spreadsheet_numbers_and_skip_blank_ones() {
        let t = read("\u{feff}姓名,性别\n李明,男\n,\n\"王\n芳\",女\n\n张伟,男\n".as_bytes())
            .expect("csv");
        assert_eq!(t.format, "CSV (UTF-8)");
        assert_eq!(t.header, vec!["姓名", "性别"]);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.rows[0].0, 2);
        // Row 3 is blank; the quoted cell over two lines is row 4.
        assert_eq!(t.rows[1], (4, vec!["王\n芳".to_string(), "女".to_string()]));
        // Row 5 is an empty line, which the csv reader skips: 张伟 is row 6.
        assert_eq!(t.rows[2].0, 6);
        let t = read(b"a\n\nb\n\n\nc\n").expect("csv");
        let lines: Vec<usize> = t.rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [3, 6]);
    }

    #[test]
    fn a_gb18030_csv_is_read_and_bytes_of_neither_are_refused() {
        let (gbk, _, _) = encoding_rs::GB18030.encode("姓名\n李明\n");
        let t = read(&gbk).expect("gb18030");
        assert_eq!(t.format, "CSV (GB18030)");
        assert_eq!(t.rows[0].1, vec!["李明".to_string()]);
        // 0xFF is a lead byte in neither encoding.
        assert_eq!(read(b"a\n\xff\n"), Err(SheetError::Encoding));
        // UTF-8 rows, then a GBK one: refused, not read as mojibake.
        let mut mixed = "姓名\n李明\n".as_bytes().to_vec();
        mixed.extend_from_slice(&gbk[gbk.len() - 5..]);
        assert_eq!(read(&mixed), Err(SheetError::MixedEncoding { line: 3 }));
    }

    #[test]
    fn a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_read() {
        use std::io::Write;
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            w.start_file("xl/worksheets/sheet1.xml", opts)
                .expect("member");
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..=(MAX_UNPACKED >> 20) {
                w.write_all(&zeros).expect("write");
            }
            w.finish().expect("zip");
        }
        let bomb = out.into_inner();
        assert!(bomb.len() < 1 << 20, "small on the wire: {}", bomb.len());
        assert_eq!(read(&bomb), Err(SheetError::TooLarge));
    }

    #[test]
    fn a_far_cell_in_a_small_workbook_is_refused_without_filling_the_range() {
        // One cell at XFD1048576: calamine's dense range of it would be
        // half a terabyte; the cell reader stops at the row bound.
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "姓名").expect("cell");
        ws.write_string(1_048_575, 16_383, "x").expect("cell");
        let far = wb.save_to_buffer().expect("xlsx");
        assert!(far.len() < 16 << 10);
        assert_eq!(read(&far), Err(SheetError::TooMany));
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "姓名").expect("cell");
        ws.write_string(1, 200, "x").expect("cell");
        let wide = wb.save_to_buffer().expect("xlsx");
        assert_eq!(read(&wide), Err(SheetError::TooWide { line: 2 }));
    }

    #[test]
    fn the_first_visible_sheet_is_read_and_named() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let old = wb.add_worksheet();
        old.set_name("旧").expect("name");
        old.write_string(0, 0, "姓名").expect("cell");
        old.write_string(1, 0, "隐藏").expect("cell");
        old.set_hidden(true);
        let roster = wb.add_worksheet();
        roster.set_name("名册").expect("name");
        roster.write_string(0, 0, "姓名").expect("cell");
        roster.write_string(2, 1, "李明").expect("cell");
        roster.set_active(true);
        let t = read(&wb.save_to_buffer().expect("xlsx")).expect("read");
        assert_eq!(t.sheet.as_deref(), Some("名册"));
        assert_eq!(t.rows, vec![(3, vec![String::new(), "李明".to_string()])]);
    }

    #[test]
    fn nothing_or_a_broken_workbook_is_refused_with_a_reason() {
        assert_eq!(read(b""), Err(SheetError::Empty));
        assert!(matches!(
            read(b"PK\x03\x04 not really a zip"),
            Err(SheetError::Workbook(_))
        ));
        assert_eq!(read(b"\n\n"), Err(SheetError::NoHeader));
        let many: String = std::iter::once("a\n".to_string())
            .chain((0..=MAX_ROWS).map(|i| format!("{i}\n")))
            .collect();
        assert_eq!(read(many.as_bytes()), Err(SheetError::TooMany));
        let wide = format!("{}\n", vec!["a"; MAX_COLUMNS + 1].join(","));
        assert_eq!(read(wide.as_bytes()), Err(SheetError::TooWide { line: 1 }));
        let long = format!("a\n{}\n", "长".repeat(MAX_CELL_CHARS + 1));
        assert_eq!(
            read(long.as_bytes()),
            Err(SheetError::CellTooLong {
                line: 2,
                column: "A".into()
            })
        );
        let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        assert_eq!(read(&xls), Err(SheetError::NotXlsx));
    }
}
