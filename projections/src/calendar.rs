//! Working days for deadlines (R4) and publicity periods (R5).
//!
//! The seeds count in 工作日 ("在5个工作日内报送查核结果", 002) but no document fixes
//! the calendar, and China moves working days around public holidays (调休), so the
//! calendar is data: weekends are rest days unless listed as extra working days,
//! and listed holidays are rest days.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkCalendar {
    /// Weekdays that are nonetheless rest days (public holidays).
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are nonetheless working days (调休).
    pub extra_working_days: BTreeSet<NaiveDate>,
    /// The years whose official calendar (国务院办公厅 部分节假日安排) is given
    /// (D25). Empty: a calendar written before years were listed, taken as
    /// covering every year.
    pub years: BTreeSet<i32>,
}

/// A date for which no official calendar is known: counting working days in
/// it would be a guess (D25).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no working-day calendar for {year} (the procedure's [calendar] covers {covered}): add that year's holidays and adjusted working days, with the year in `years`")]
pub struct UncoveredYear {
    pub year: i32,
    pub covered: String,
}

impl WorkCalendar {
    /// Whether every day from `start` to `end` lies in a year the calendar
    /// covers; the first year that does not, otherwise.
    pub fn check_covers(&self, start: NaiveDate, end: NaiveDate) -> Result<(), UncoveredYear> {
        if self.years.is_empty() {
            return Ok(());
        }
        let (a, b) = (start.min(end).year(), start.max(end).year());
        match (a..=b).find(|y| !self.years.contains(y)) {
            None => Ok(()),
            Some(year) => Err(UncoveredYear {
                year,
                covered: self.covered(),
            }),
        }
    }

    /// The covered years, e.g. `2020–2025`, or `2020, 2022`.
    pub fn covered(&self) -> String {
        let years: Vec<i32> = self.years.iter().copied().collect();
        match (years.first(), years.last()) {
            (Some(a), Some(b)) if (b - a) as usize + 1 == years.len() && a != b => {
                format!("{a}–{b}")
            }
            _ => years
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.holidays.contains(&day) {
            return false;
        }
        if self.extra_working_days.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The date of the `n`-th working day strictly after `start`. For `n == 0` this
    /// is `start` itself. The start day is not counted because a period that begins
    /// in the afternoon must not lose a day to it (see DECISIONS-domain.md).
    pub fn nth_working_day_after(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut counted = 0;
        while counted < n {
            match day.succ_opt() {
                Some(next) => day = next,
                // The end of chrono's calendar: no later day exists to count.
                None => return day,
            }
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        day
    }

    /// Working days strictly after `start` up to and including `end`.
    pub fn working_days_between(&self, start: NaiveDate, end: NaiveDate) -> u32 {
        let mut count = 0;
        let mut day = start;
        while day < end {
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekends_are_skipped_and_adjusted_days_respected() {
        let mut cal = WorkCalendar::default();
        // Friday 2021-04-30 + 5 working days, with no holidays: Fri 7 May.
        assert_eq!(
            cal.nth_working_day_after(d("2021-04-30"), 5),
            d("2021-05-07")
        );
        // The 2021 Labour Day holiday (1–5 May) with Saturday 8 May worked.
        for day in ["2021-05-03", "2021-05-04", "2021-05-05"] {
            cal.holidays.insert(d(day));
        }
        cal.extra_working_days.insert(d("2021-05-08"));
        // Fri 30 Apr → 6 May (Thu), 7 (Fri), 8 (Sat, worked), 10, 11.
        assert_eq!(
            cal.nth_working_day_after(d("2021-04-30"), 5),
            d("2021-05-11")
        );
        assert_eq!(
            cal.working_days_between(d("2021-04-30"), d("2021-05-11")),
            5
        );
        assert_eq!(
            cal.working_days_between(d("2021-04-30"), d("2021-05-10")),
            4
        );
        assert_eq!(
            cal.nth_working_day_after(d("2021-04-30"), 0),
            d("2021-04-30")
        );
    }
}
