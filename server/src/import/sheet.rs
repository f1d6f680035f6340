//! A spreadsheet read into text cells, row by row, with the row numbers a
//! clerk sees in Excel or WPS (the header is row 1), so that every error of
//! the preview points at a cell they can find. XLSX (and the older XLS and
//! ODS, which calamine reads alike) is told from CSV by its first bytes,
//! not by the file's name; a CSV that is not UTF-8 is read as GB18030,
//! which is what Excel writes on a Chinese Windows ("CSV" rather than
//! "CSV UTF-8").

use std::io::Cursor;

use calamine::{open_workbook_auto_from_rs, Data, Reader};

/// Most data rows one import takes: a roster or a step list of one
/// election is a few hundred rows at most; more is a wrong file.
pub const MAX_ROWS: usize = 2000;

/// Most bytes an uploaded workbook may unpack to. A roster of 2,000 rows
/// is a few megabytes of XML; a file that unpacks to more is not one.
pub const MAX_UNPACKED: u64 = 64 << 20;

/// A sheet as text: its header and its non-blank rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// What the file was read as: `XLSX` or `CSV (UTF-8)` or `CSV (GB18030)`.
    pub format: &'static str,
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
    // ZIP (XLSX, ODS) or OLE2 (XLS) containers.
    let workbook = bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let (format, grid) = if workbook {
        ("XLSX", workbook_rows(bytes)?)
    } else {
        csv_rows(bytes)?
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

fn workbook_rows(bytes: &[u8]) -> Result<Grid, SheetError> {
    unpacked_within_limit(bytes)?;
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| SheetError::Workbook(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(SheetError::NoSheet)?
        .map_err(|e| SheetError::Workbook(e.to_string()))?;
    // The used range may start below row 1 or right of column A; the row
    // and column numbers stay those of the sheet.
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut out = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let line = top as usize + i + 1;
        let mut cells = vec![String::new(); left as usize];
        for (j, cell) in row.iter().enumerate() {
            cells.push(cell_text(cell).map_err(|value| SheetError::Cell {
                line,
                column: column_name(left as usize + j),
                value,
            })?);
        }
        out.push((line, cells));
    }
    Ok(out)
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

fn csv_rows(bytes: &[u8]) -> Result<(&'static str, Grid), SheetError> {
    let (format, text) = match std::str::from_utf8(bytes) {
        Ok(t) => ("CSV (UTF-8)", t.trim_start_matches('\u{feff}').to_string()),
        Err(_) => (
            "CSV (GB18030)",
            encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or(SheetError::Encoding)?
                .into_owned(),
        ),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        // A record is a spreadsheet row, even when a quoted cell spans lines.
        let line = i + 1;
        let record = record.map_err(|e| SheetError::Csv {
            line,
            reason: e.to_string(),
        })?;
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
        let t = read("\u{feff}姓名,性别\n李明,男\n,\n\"王\n芳\",女\n".as_bytes()).expect("csv");
        assert_eq!(t.format, "CSV (UTF-8)");
        assert_eq!(t.header, vec!["姓名", "性别"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].0, 2);
        // Row 3 is blank; the quoted cell over two lines is row 4.
        assert_eq!(t.rows[1], (4, vec!["王\n芳".to_string(), "女".to_string()]));
    }

    #[test]
    fn a_gb18030_csv_is_read_and_bytes_of_neither_are_refused() {
        let (gbk, _, _) = encoding_rs::GB18030.encode("姓名\n李明\n");
        let t = read(&gbk).expect("gb18030");
        assert_eq!(t.format, "CSV (GB18030)");
        assert_eq!(t.rows[0].1, vec!["李明".to_string()]);
        // 0xFF is a lead byte in neither encoding.
        assert_eq!(read(b"a\n\xff\n"), Err(SheetError::Encoding));
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
    }
}
