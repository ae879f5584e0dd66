//! Durations as Go's `time.ParseDuration` reads them (`90s`, `1h30m`, `1.5m`, `300ms`), the
//! format Argo CD and Kargo fields use, and Argo CD's variant that takes a bare integer as
//! seconds (`retry.backoff.duration: "5"`).

use std::time::Duration;

/// A duration that is not in Go's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration {0:?}")]
pub struct InvalidDuration(pub String);

/// Parses Go's duration format; negative durations are refused.
pub fn parse_go(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_string());
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = rest;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// Argo CD's `parseStringToDuration`: a bare integer is seconds, anything else Go's format.
pub fn parse_seconds_or_go(text: &str) -> Result<Duration, InvalidDuration> {
    match text.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => parse_go(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok = [
            ("0", 0.0),
            ("5s", 5.0),
            ("3m", 180.0),
            ("1h30m", 5400.0),
            ("1.5m", 90.0),
            ("300ms", 0.3),
            ("+2h", 7200.0),
            ("1m0.5s", 60.5),
        ];
        for (text, seconds) in ok {
            assert_eq!(
                parse_go(text),
                Ok(Duration::from_secs_f64(seconds)),
                "{text}"
            );
        }
        for bad in ["", "5", "-1s", "1d", "s", "1.2.3s", "m5"] {
            assert!(parse_go(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bare_integer_is_seconds_for_argo_cd() {
        assert_eq!(parse_seconds_or_go("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_seconds_or_go("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_seconds_or_go("soon").is_err());
    }
}
