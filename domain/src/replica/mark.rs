//! Write marks: where a write left the primary, carried by the reads that must see it.

use crate::error::{Error, Result, Violation};

/// Where a write left the primary: a read that carries it sees that write.
///
/// On Postgres, a WAL position (LSN); on SQLite and MariaDB no position (reads that carry such
/// a mark go to the primary, as every read does there). Carry it across requests as text
/// ([`WriteMark::encode`] / [`WriteMark::parse`], e.g. `pg:16/B374D848`) or through serde (the
/// same text). Keep the latest of several with [`WriteMark::latest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WriteMark {
    lsn: Option<u64>,
}

impl WriteMark {
    /// A mark with no position: a read carrying it always goes to the primary.
    pub const PRIMARY: WriteMark = WriteMark { lsn: None };

    /// A mark at a Postgres WAL position.
    pub fn at_lsn(lsn: u64) -> Self {
        Self { lsn: Some(lsn) }
    }

    /// The Postgres WAL position, if the mark has one.
    pub fn lsn(&self) -> Option<u64> {
        self.lsn
    }

    /// The later of two marks (a mark without position counts as the latest: it sends reads
    /// to the primary).
    #[must_use]
    pub fn latest(self, other: WriteMark) -> WriteMark {
        match (self.lsn, other.lsn) {
            (Some(a), Some(b)) => WriteMark::at_lsn(a.max(b)),
            _ => WriteMark::PRIMARY,
        }
    }

    /// The mark as text: `pg:<hi>/<lo>` (Postgres' LSN notation) or `primary`.
    pub fn encode(&self) -> String {
        match self.lsn {
            Some(lsn) => format!("pg:{}", format_lsn(lsn)),
            None => "primary".to_owned(),
        }
    }

    /// Reads a mark written by [`WriteMark::encode`].
    ///
    /// # Errors
    /// [`Error::Invalid`] with field `write_mark` and [`Violation::Format`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::Invalid {
            field: "write_mark",
            violation: Violation::Format,
        };
        if text == "primary" {
            return Ok(WriteMark::PRIMARY);
        }
        let lsn = text.strip_prefix("pg:").ok_or_else(invalid)?;
        parse_lsn(lsn).map(WriteMark::at_lsn).ok_or_else(invalid)
    }
}

impl From<WriteMark> for String {
    fn from(mark: WriteMark) -> String {
        mark.encode()
    }
}

impl TryFrom<String> for WriteMark {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        WriteMark::parse(&text)
    }
}

/// `16/B374D848` → 0x16_B374D848. Exactly Postgres' text form: hex digits only, one slash,
/// each half at most 8 digits.
pub(super) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let half = |s: &str| {
        if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(s, 16).ok()
    };
    Some((u64::from(half(hi)?) << 32) | u64::from(half(lo)?))
}

fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_round_trips_and_look_alikes_are_refused() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        for bad in [
            "",
            "/",
            "16/",
            "/1",
            "16B374D848",
            "1/2/3",
            "G/1",
            "+1/1",
            "1/-1",
            " 1/1",
            "100000000/0",
            "1/1\0",
            "１/1",
        ] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn marks_encode_parse_and_serialise_as_the_same_text() {
        let mark = WriteMark::at_lsn(0x16_B374_D848);
        assert_eq!(mark.encode(), "pg:16/B374D848");
        assert_eq!(WriteMark::parse("pg:16/B374D848").expect("valid"), mark);
        assert_eq!(
            WriteMark::parse("primary").expect("valid"),
            WriteMark::PRIMARY
        );
        let json = serde_json::to_string(&mark).expect("serialise");
        assert_eq!(json, "\"pg:16/B374D848\"");
        assert_eq!(
            serde_json::from_str::<WriteMark>(&json).expect("read"),
            mark
        );
        for bad in [
            "", "pg:", "pg:1", "PG:1/1", "primary ", "pg:1/1 ", "mysql:1",
        ] {
            assert!(
                matches!(
                    WriteMark::parse(bad),
                    Err(Error::Invalid {
                        field: "write_mark",
                        violation: Violation::Format
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<WriteMark>("\"pg:x/1\"").is_err());
    }

    #[test]
    fn the_latest_of_two_marks_is_kept() {
        let (a, b) = (WriteMark::at_lsn(10), WriteMark::at_lsn(20));
        assert_eq!(a.latest(b), b);
        assert_eq!(b.latest(a), b);
        assert_eq!(a.latest(WriteMark::PRIMARY), WriteMark::PRIMARY);
    }
}
