//! Dates as feeds write them. Two readers: one for the ISO 8601 family (RFC 3339, W3C-DTF and
//! its partial forms such as `2003-12`, `2003-12-13T18:30Z`, compact `20031213T183002Z`), and a
//! token reader for the RFC 822 family and its many sloppy cousins (no weekday, one-digit days,
//! two-digit years, named and military zones, `GMT+2`, no seconds, `December 13, 2003`,
//! asctime). A date without a zone is taken as UTC. Returns None rather than guessing when the
//! parts do not make a calendar date. Owns no state; it must never panic on any input and only
//! ever looks at the first [`MAX_LEN`] bytes.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// No real date is longer; a longer field is not worth scanning.
const MAX_LEN: usize = 128;

/// The instant a feed date names, if it names one.
pub fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    if text.is_empty() || text.len() > MAX_LEN {
        return None;
    }
    iso(text).or_else(|| loose(text))
}

struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Seconds east of UTC.
    offset: i32,
}

impl Parts {
    fn instant(&self) -> Option<DateTime<Utc>> {
        if !(1..=9999).contains(&self.year)
            || self.hour > 24
            || self.minute > 59
            || self.second > 60
        {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(self.year, self.month, self.day)?;
        // 24:00 is the end of the day and 60 a leap second; both roll over.
        let naive = date.and_hms_opt(0, 0, 0)?
            + chrono::Duration::seconds(
                i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second),
            )
            + chrono::Duration::nanoseconds(i64::from(self.nanos));
        let utc = naive - chrono::Duration::seconds(i64::from(self.offset));
        Some(Utc.from_utc_datetime(&utc))
    }
}

/// A cursor over ASCII bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let slice = self.bytes.get(self.at..self.at + n)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(
            slice
                .iter()
                .fold(0, |acc, b| acc * 10 + u32::from(b - b'0')),
        )
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }
}

/// ISO 8601 / RFC 3339 / W3C-DTF, including partial dates and times without seconds.
fn iso(text: &str) -> Option<DateTime<Utc>> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = c.digits(4)? as i32;
    let (mut month, mut day) = (1, 1);
    let compact = c.peek().is_some_and(|b| b.is_ascii_digit());
    if compact {
        month = c.digits(2)?;
        day = c.digits(2)?;
    } else if c.eat(b'-') {
        month = c.digits(2).or_else(|| c.digits(1))?;
        if c.eat(b'-') {
            day = c.digits(2).or_else(|| c.digits(1))?;
        }
    }
    let mut parts = Parts {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset: 0,
    };
    let before_time = c.at;
    if c.eat(b'T') || c.eat(b't') || c.eat(b' ') {
        c.skip_spaces();
        match c.digits(2) {
            Some(hour) => {
                parts.hour = hour;
                let colon = c.eat(b':');
                if let Some(minute) = c.digits(2) {
                    parts.minute = minute;
                    if (!colon || c.eat(b':'))
                        && let Some(second) = c.digits(2)
                    {
                        parts.second = second;
                        if c.eat(b'.') || c.eat(b',') {
                            let start = c.at;
                            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                                c.at += 1;
                            }
                            let frac = &text[start..c.at];
                            let nine: String =
                                frac.chars().chain(std::iter::repeat('0')).take(9).collect();
                            parts.nanos = nine.parse().unwrap_or(0);
                        }
                    }
                } else if colon {
                    return None;
                }
            }
            None => c.at = before_time,
        }
    }
    c.skip_spaces();
    if !c.rest().is_empty() {
        parts.offset = zone_suffix(std::str::from_utf8(c.rest()).ok()?)?;
    }
    parts.instant()
}

/// A zone at the end of an ISO date: `Z`, `+01:00`, `-0500`, `+01`, or a zone name.
fn zone_suffix(rest: &str) -> Option<i32> {
    let rest = rest.trim();
    if rest.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    if let Some(offset) = numeric_offset(rest) {
        return Some(offset);
    }
    named_zone(rest)
}

/// `+hh:mm`, `+hhmm`, `+hh` or `+h`, as seconds east of UTC.
fn numeric_offset(text: &str) -> Option<i32> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &text[1..];
    let digits: String = body.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i32, i32) = if digits.len() <= 2 {
        (digits.parse().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Zone names feeds use, as seconds east of UTC. The single letters are RFC 822's military
/// zones with RFC 822's signs.
fn named_zone(name: &str) -> Option<i32> {
    let hours = |h: f32| Some((h * 3600.0) as i32);
    match name.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" => hours(0.0),
        "EST" | "CDT" => hours(-5.0),
        "EDT" | "AST" => hours(-4.0),
        "ADT" => hours(-3.0),
        "CST" | "MDT" => hours(-6.0),
        "MST" | "PDT" => hours(-7.0),
        "PST" | "AKDT" => hours(-8.0),
        "AKST" => hours(-9.0),
        "HST" => hours(-10.0),
        "NST" => hours(-3.5),
        "BST" | "CET" | "MET" | "WEST" => hours(1.0),
        "CEST" | "MEST" | "EET" | "SAST" => hours(2.0),
        "EEST" | "MSK" => hours(3.0),
        "IST" => hours(5.5),
        "SGT" | "HKT" | "AWST" => hours(8.0),
        "JST" | "KST" => hours(9.0),
        "ACST" => hours(9.5),
        "AEST" => hours(10.0),
        "AEDT" => hours(11.0),
        "NZST" => hours(12.0),
        "NZDT" => hours(13.0),
        letter if letter.len() == 1 => {
            let b = letter.as_bytes()[0];
            match b {
                b'A'..=b'I' => hours(-f32::from(b - b'A' + 1)),
                b'K'..=b'M' => hours(-f32::from(b - b'K' + 10)),
                b'N'..=b'Y' => hours(f32::from(b - b'N' + 1)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Month names in the languages of the feeds we watch most, nominative and genitive where
/// they differ. A word names a month when it starts that month's name in every language it
/// starts one in, so "jun", "juni" and "июн" are June but "jui" (juin or juillet) is nothing.
const MONTHS: [&[&str]; 12] = [
    &[
        "january",
        "januar",
        "janvier",
        "enero",
        "gennaio",
        "janeiro",
        "januari",
        "январь",
        "января",
        "січень",
        "січня",
        "styczeń",
        "stycznia",
    ],
    &[
        "february",
        "februar",
        "février",
        "febrero",
        "febbraio",
        "fevereiro",
        "februari",
        "февраль",
        "февраля",
        "лютий",
        "лютого",
        "luty",
        "lutego",
    ],
    &[
        "march",
        "märz",
        "mars",
        "marzo",
        "março",
        "maart",
        "март",
        "марта",
        "березень",
        "березня",
        "marzec",
        "marca",
    ],
    &[
        "april",
        "avril",
        "abril",
        "aprile",
        "апрель",
        "апреля",
        "квітень",
        "квітня",
        "kwiecień",
        "kwietnia",
    ],
    &[
        "may",
        "mai",
        "mayo",
        "maggio",
        "maio",
        "mei",
        "май",
        "мая",
        "травень",
        "травня",
        "maj",
        "maja",
    ],
    &[
        "june",
        "juni",
        "juin",
        "junio",
        "giugno",
        "junho",
        "июнь",
        "июня",
        "червень",
        "червня",
        "czerwiec",
        "czerwca",
    ],
    &[
        "july",
        "juli",
        "juillet",
        "julio",
        "luglio",
        "julho",
        "июль",
        "июля",
        "липень",
        "липня",
        "lipiec",
        "lipca",
    ],
    &[
        "august",
        "août",
        "agosto",
        "augustus",
        "август",
        "августа",
        "серпень",
        "серпня",
        "sierpień",
        "sierpnia",
    ],
    &[
        "september",
        "septembre",
        "septiembre",
        "settembre",
        "setembro",
        "сентябрь",
        "сентября",
        "вересень",
        "вересня",
        "wrzesień",
        "września",
        "sept",
    ],
    &[
        "october",
        "oktober",
        "octobre",
        "octubre",
        "ottobre",
        "outubro",
        "октябрь",
        "октября",
        "жовтень",
        "жовтня",
        "październik",
        "października",
    ],
    &[
        "november",
        "novembre",
        "noviembre",
        "novembro",
        "ноябрь",
        "ноября",
        "листопад",
        "листопада",
        "listopad",
        "listopada",
    ],
    &[
        "december",
        "dezember",
        "décembre",
        "diciembre",
        "dicembre",
        "dezembro",
        "декабрь",
        "декабря",
        "грудень",
        "грудня",
        "grudzień",
        "grudnia",
    ],
];

fn month_number(word: &str) -> Option<u32> {
    let lower = word.to_lowercase();
    if lower.chars().count() < 3 {
        return None;
    }
    let mut found = None;
    for (at, names) in MONTHS.iter().enumerate() {
        if names.iter().any(|name| name.starts_with(lower.as_str())) {
            if found.is_some() {
                return None;
            }
            found = Some(at as u32 + 1);
        }
    }
    found
}

fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = word.to_ascii_lowercase();
    lower.len() >= 2 && DAYS.iter().any(|d| d.starts_with(lower.as_str()))
}

/// The RFC 822 family and its relatives, read as tokens in any order: a month name, numbers
/// for day and year, an `h:mm[:ss]` time, a zone name and/or a numeric offset.
fn loose(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut month = None;
    let mut numbers: Vec<(u32, usize)> = Vec::new();
    let mut time: Option<(u32, u32, u32)> = None;
    let mut pm: Option<bool> = None;
    let mut zone: Option<i32> = None;
    let mut offset: Option<i32> = None;
    while i < bytes.len() {
        let b = bytes[i];
        let letter = |at: usize| text[at..].chars().next().is_some_and(char::is_alphabetic);
        if !text.is_char_boundary(i) {
            i += 1;
        } else if letter(i) {
            let start = i;
            while i < bytes.len() && (!text.is_char_boundary(i) || letter(i)) {
                i += 1;
            }
            let word = &text[start..i];
            if let Some(m) = month_number(word).filter(|_| month.is_none()) {
                month = Some(m);
            } else if word.eq_ignore_ascii_case("am") || word.eq_ignore_ascii_case("pm") {
                pm = Some(word.eq_ignore_ascii_case("pm"));
            } else if let Some(z) = named_zone(word).filter(|_| time.is_some() || word.len() > 1) {
                zone = zone.or(Some(z));
            } else if is_weekday(word) || word.eq_ignore_ascii_case("t") {
                // Weekdays are often wrong in feeds, and never needed.
            } else if time.is_some() {
                // Anything after the time that is no zone ends the date ("… GMT (foo)").
                break;
            }
        } else if b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let value: u32 = text[start..i].parse().ok().filter(|_| i - start <= 4)?;
            if bytes.get(i) == Some(&b':') && time.is_none() {
                i += 1;
                let m_start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let minute: u32 = text[m_start..i].parse().ok()?;
                let mut second = 0;
                if bytes.get(i) == Some(&b':') {
                    i += 1;
                    let s_start = i;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    second = text[s_start..i].parse().unwrap_or(0);
                    if bytes.get(i) == Some(&b'.') {
                        i += 1;
                        while i < bytes.len() && bytes[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                time = Some((value, minute, second));
            } else {
                numbers.push((value, i - start));
            }
        } else if (b == b'+' || b == b'-') && (time.is_some() || zone.is_some()) && offset.is_none()
        {
            let start = i;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b':') {
                i += 1;
            }
            offset = numeric_offset(&text[start..i]);
        } else if b == b'(' {
            // An RFC 822 comment, usually the zone's name again.
            match bytes[i..].iter().position(|c| *c == b')') {
                Some(close) => i += close + 1,
                None => break,
            }
        } else {
            i += 1;
        }
    }
    let (year, month, day) = match month {
        Some(month) => {
            let year_at = numbers
                .iter()
                .position(|(_, digits)| *digits == 4)
                .or_else(|| (numbers.len() >= 2).then_some(1))?;
            let (year, digits) = numbers[year_at];
            let day = numbers
                .iter()
                .enumerate()
                .find(|(at, _)| *at != year_at)
                .map_or(1, |(_, (d, _))| *d);
            (full_year(year, digits), month, day)
        }
        None => {
            // All numbers: 2003/12/13, 12/13/2003 (US) or 13/12/2003.
            let [(a, ad), (b, _), (c, cd)] = numbers.get(..3)?.try_into().ok()?;
            if ad == 4 {
                (a as i32, b, c)
            } else if cd == 4 || cd == 2 {
                let year = full_year(c, cd);
                if a > 12 { (year, b, a) } else { (year, a, b) }
            } else {
                return None;
            }
        }
    };
    let (mut hour, minute, second) = time.unwrap_or((0, 0, 0));
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    Parts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos: 0,
        offset: zone.unwrap_or(0) + offset.unwrap_or(0),
    }
    .instant()
}

/// Two-digit years as RFC 2822 reads them: 00–49 are 2000–2049, 50–99 are 1950–1999.
fn full_year(year: u32, digits: usize) -> i32 {
    let year = year as i32;
    match digits {
        1 | 2 if year < 50 => 2000 + year,
        1 | 2 => 1900 + year,
        _ => year,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso_of(text: &str) -> Option<String> {
        parse_date(text).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    #[test]
    fn rfc822_and_its_cousins() {
        let cases = [
            ("Sat, 13 Dec 2003 18:30:02 GMT", "2003-12-13T18:30:02Z"),
            ("13 Dec 2003 18:30:02 +0100", "2003-12-13T17:30:02Z"),
            ("Sat, 3 Jan 04 1:00:00 EST", "2004-01-03T06:00:00Z"),
            ("Sat, 13 Dec 2003 18:30 PDT", "2003-12-14T01:30:00Z"),
            ("Sat, 13 Dec 2003 18:30:02 UT", "2003-12-13T18:30:02Z"),
            ("Sat, 13 Dec 2003 18:30:02 Z", "2003-12-13T18:30:02Z"),
            ("Sat, 13 Dec 2003 18:30:02 A", "2003-12-13T19:30:02Z"),
            ("Thu, 01 Jan 2004 19:48:21 GMT+2", "2004-01-01T17:48:21Z"),
            (
                "Tue, 10 Jun 2003 04:00:00 -0400 (EDT)",
                "2003-06-10T08:00:00Z",
            ),
            ("December 13, 2003 6:30 pm", "2003-12-13T18:30:00Z"),
            ("Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37Z"),
            ("Mon, 1 Sept 2003 10:00:00 +00:00", "2003-09-01T10:00:00Z"),
            ("13 Dec 99 18:30:02 GMT", "1999-12-13T18:30:02Z"),
            ("Пт, 25 ноя 2022 10:00:00 +0300", "2022-11-25T07:00:00Z"),
            ("25 ноября 2022, 10:00", "2022-11-25T10:00:00Z"),
            ("Mi, 05 Okt 2022 10:00:00 +0200", "2022-10-05T08:00:00Z"),
            ("5 juin 2022 10:00", "2022-06-05T10:00:00Z"),
            ("25.11.2022 10:00", "2022-11-25T10:00:00Z"),
        ];
        for (text, want) in cases {
            assert_eq!(iso_of(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn iso8601_and_w3cdtf_partial_forms() {
        let cases = [
            ("2003-12-13T18:30:02Z", "2003-12-13T18:30:02Z"),
            ("2003-12-13T18:30:02.25+01:00", "2003-12-13T17:30:02Z"),
            ("2003-12-13T18:30Z", "2003-12-13T18:30:00Z"),
            ("2003-12-13", "2003-12-13T00:00:00Z"),
            ("2003-12", "2003-12-01T00:00:00Z"),
            ("2003", "2003-01-01T00:00:00Z"),
            ("2003-12-13 18:30:02", "2003-12-13T18:30:02Z"),
            ("20031213T183002Z", "2003-12-13T18:30:02Z"),
            ("2003-12-13T18:30:02-0500", "2003-12-13T23:30:02Z"),
            ("2003-12-13T18:30:02 EST", "2003-12-13T23:30:02Z"),
            ("2003/12/13 18:30:02", "2003-12-13T18:30:02Z"),
        ];
        for (text, want) in cases {
            assert_eq!(iso_of(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn nonsense_is_none() {
        for text in [
            "",
            "yesterday",
            "2003-13-45",
            "31 Feb 2003",
            "12345678901234",
            "-",
            "::",
            "+9999",
        ] {
            assert_eq!(iso_of(text), None, "{text}");
        }
    }
}
