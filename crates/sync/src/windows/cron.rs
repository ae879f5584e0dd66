//! Cron schedules as Argo CD's sync windows read them (robfig/cron's standard parser): five
//! fields — minute, hour, day of month, month, day of week — each `*`, `?`, a number, a
//! range `a-b`, a list `a,b`, a step `*/n` or `a-b/n`, months and weekdays also by name
//! (`jan`, `mon`), weekday 7 as Sunday; the `@yearly`, `@monthly`, `@weekly`, `@daily` and
//! `@hourly` shorthands. When both day fields are restricted, either may match, as in cron.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};

/// A schedule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron schedule {schedule:?}: {reason}")]
pub struct CronError {
    /// The schedule as written.
    pub schedule: String,
    /// What is wrong.
    pub reason: String,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day of month or of week written as `*`/`?`: then both must match, else either.
    any_day: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses a schedule.
    pub fn parse(text: &str) -> Result<Schedule, CronError> {
        let error = |reason: String| CronError {
            schedule: text.to_string(),
            reason,
        };
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(error(format!("expected 5 fields, found {}", fields.len())));
        };
        let weekdays = field(weekday, 0, 7, &WEEKDAYS).map_err(&error)?;
        // 7 is Sunday too.
        let weekdays = (weekdays & !(1 << 7)) | u64::from(weekdays & (1 << 7) != 0);
        Ok(Schedule {
            minutes: field(minute, 0, 59, &[]).map_err(&error)?,
            hours: field(hour, 0, 23, &[]).map_err(&error)?,
            days: field(day, 1, 31, &[]).map_err(&error)?,
            months: field(month, 1, 12, &MONTHS).map_err(&error)?,
            weekdays,
            any_day: is_star(day) || is_star(weekday),
        })
    }

    /// The first time after `after` (strictly) the schedule fires, in `tz`'s wall-clock
    /// time; `None` when it never does within five years (`30 2 31 2 *`).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone()).datetime();
        let mut t = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = start.date().checked_add(5.years()).ok()?;
        while t.date() < limit {
            if !bit(self.months, t.month()) {
                t = first_of_next_month(t.date())?.to_datetime(Time::midnight());
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().tomorrow().ok()?.to_datetime(Time::midnight());
                continue;
            }
            if !bit(self.hours, t.hour()) {
                t = t
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if !bit(self.minutes, t.minute()) {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            // A wall-clock time the clocks went back over can read as before `after`.
            match tz.to_timestamp(t) {
                Ok(fire) if fire > after => return Some(fire),
                _ => t = t.checked_add(1.minute()).ok()?,
            }
        }
        None
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = bit(self.days, date.day());
        let weekday = bit(self.weekdays, date.weekday().to_sunday_zero_offset());
        if self.any_day {
            day && weekday
        } else {
            day || weekday
        }
    }
}

/// A field that is "any" (`*`, `?`, or those with step 1), as robfig/cron marks them; `*/2`
/// is a restriction.
fn is_star(field: &str) -> bool {
    field
        .split(',')
        .any(|p| matches!(p, "*" | "?" | "*/1" | "?/1"))
}

fn bit(set: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| v < 64 && set & (1 << v) != 0)
}

fn first_of_next_month(date: Date) -> Option<Date> {
    date.first_of_month().checked_add(1.month()).ok()
}

/// One field as a bit set over `low..=high`.
fn field(text: &str, low: u32, high: u32, names: &[&str]) -> Result<u64, String> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in {part:?}"))?;
                (range, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" || range == "?" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, low, high, names)?, value(b, low, high, names)?)
        } else {
            let v = value(range, low, high, names)?;
            // `5/10` means from 5 to the end, every 10.
            (v, if part.contains('/') { high } else { v })
        };
        if from > to {
            return Err(format!("range {part:?} runs backwards"));
        }
        for v in (from..=to).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(text: &str, low: u32, high: u32, names: &[&str]) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let named = names
        .iter()
        .position(|n| *n == lower)
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| i + low);
    let v = match named {
        Some(v) => v,
        None => text
            .parse()
            .map_err(|_| format!("{text:?} is not a number"))?,
    };
    if (low..=high).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside {low}-{high}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn next_fire_times() {
        let utc = TimeZone::UTC;
        // (schedule, after, next)
        let table = [
            ("* * * * *", "2026-12-04T10:15:30Z", "2026-12-04T10:16:00Z"),
            ("0 * * * *", "2026-12-04T10:15:00Z", "2026-12-04T11:00:00Z"),
            ("30 2 * * *", "2026-12-04T10:15:00Z", "2026-12-05T02:30:00Z"),
            (
                "*/15 9-17 * * mon-fri",
                "2026-12-04T17:50:00Z",
                "2026-12-07T09:00:00Z",
            ),
            (
                "0 0 1 jan *",
                "2026-12-04T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            ("0 12 * * 7", "2026-12-04T00:00:00Z", "2026-12-06T12:00:00Z"),
            ("0 0 13 * 5", "2026-12-04T01:00:00Z", "2026-12-11T00:00:00Z"),
            // `*/2` restricts: either day field may match (the 5th is odd, a Saturday).
            (
                "0 9 */2 * 1",
                "2026-12-04T10:00:00Z",
                "2026-12-05T09:00:00Z",
            ),
            ("@daily", "2026-12-04T10:00:00Z", "2026-12-05T00:00:00Z"),
            ("0 0 29 2 *", "2026-12-04T10:00:00Z", "2028-02-29T00:00:00Z"),
        ];
        for (schedule, after, want) in table {
            let next = Schedule::parse(schedule).unwrap().next(at(after), &utc);
            assert_eq!(next, Some(at(want)), "{schedule} after {after}");
        }
        assert_eq!(
            Schedule::parse("0 0 31 2 *")
                .unwrap()
                .next(at("2026-01-01T00:00:00Z"), &utc),
            None
        );
    }

    #[test]
    fn time_zones_shift_the_wall_clock() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let next = Schedule::parse("0 9 * * *")
            .unwrap()
            .next(at("2026-12-04T10:00:00Z"), &berlin);
        assert_eq!(next, Some(at("2026-12-05T08:00:00Z")));
    }

    #[test]
    fn bad_schedules_say_why() {
        for (text, reason) in [
            ("* * * *", "expected 5 fields, found 4"),
            ("60 * * * *", "60 is outside 0-59"),
            ("* * * foo *", "\"foo\" is not a number"),
            ("5-1 * * * *", "range \"5-1\" runs backwards"),
            ("*/0 * * * *", "bad step in \"*/0\""),
        ] {
            assert_eq!(Schedule::parse(text).unwrap_err().reason, reason, "{text}");
        }
    }
}
