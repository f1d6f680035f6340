//! Printing for people (tables with Chinese and English labels, progress bars)
//! and for machines (`--json`: one JSON object a line).

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressStyle};
use jishi_ledger::RecordedEvent;

/// Prints events as a table, or as JSON Lines with `json`.
pub fn events(events: &[RecordedEvent], json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        for e in events {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "位置\nPos",
            "流\nStream",
            "版本\nVer",
            "类型\nType",
            "发生时间\nOccurred",
            "记录时间\nRecorded",
            "责任人\nActor",
            "角色 / 单位\nRole / Org",
            "哈希\nHash",
        ]);
    for e in events {
        table.add_row(vec![
            e.position.to_string(),
            e.stream.clone(),
            e.stream_version.to_string(),
            e.event_type.clone(),
            e.occurred_at.clone(),
            e.recorded_at.clone(),
            format!("{} ({})", e.actor.name, e.actor.id),
            format!("{} / {}", e.actor.role, e.actor.org),
            e.hash.short(),
        ]);
    }
    writeln!(out, "{table}")?;
    out.flush()?;
    Ok(())
}

/// A progress bar on stderr; hidden when stderr is not a terminal, so logs and
/// CI output stay clean.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// The verifier's progress, shown as a bar.
pub struct VerifyBar(ProgressBar);

impl VerifyBar {
    pub fn new() -> Self {
        VerifyBar(progress(0, "verifying"))
    }
}

impl jishi_ledger::verify::Progress for VerifyBar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, done: u64) {
        self.0.set_position(done);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// A table with the project's look (Chinese and English headers).
pub fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

/// `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A POSIX time as UTC, `YYYY-MM-DD HH:MM:SSZ` (a witness's cosignature time).
pub fn unix_time(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0).map_or_else(
        || format!("{secs} s"),
        |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}
