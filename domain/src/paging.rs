//! Keyset paging with opaque cursors.
//!
//! Lists are ordered by id, newest first: ids are UUID v7, so their order is creation order,
//! and "the rows after the cursor" is an index range that stays correct while rows are
//! inserted between two requests (a new row sorts before the first page and is never seen
//! twice nor makes another row skipped).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::{Error, Result, Table, Violation};

/// The page size used when a request does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page size a request may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// Where a page starts: the position after the last row of the previous page. Shown and
/// parsed as an opaque string; its content is not part of the API.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor(Uuid);

impl Cursor {
    /// The cursor that continues after the row with this id.
    pub(crate) fn after(id: Uuid) -> Self {
        Self(id)
    }

    /// The id of the last row already seen.
    pub(crate) fn last_id(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({self})")
    }
}

impl FromStr for Cursor {
    type Err = Error;

    /// # Errors
    /// [`Error::Invalid`] naming `cursor` with [`Violation::Format`].
    fn from_str(s: &str) -> Result<Self> {
        if s.len() != 32 {
            return Err(Error::Invalid {
                field: "cursor",
                violation: Violation::Format,
            });
        }
        Uuid::try_parse(s).map(Self).map_err(|_| Error::Invalid {
            field: "cursor",
            violation: Violation::Format,
        })
    }
}

/// Which page to read: after `cursor` (the first page when `None`), at most `limit` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Continue after this cursor; `None` for the first page.
    pub after: Option<Cursor>,
    /// How many rows at most; 1 to [`MAX_PAGE_SIZE`].
    pub limit: u64,
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: u64) -> Self {
        Self { after: None, limit }
    }

    /// The page after `cursor`.
    pub fn after(cursor: Cursor, limit: u64) -> Self {
        Self {
            after: Some(cursor),
            limit,
        }
    }

    /// The page size, checked.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `limit` with [`Violation::OutOfRange`].
    pub(crate) fn checked_limit(&self) -> Result<u64> {
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(Error::Invalid {
                field: "limit",
                violation: Violation::OutOfRange {
                    min: 1,
                    max: MAX_PAGE_SIZE as i64,
                },
            });
        }
        Ok(self.limit)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(DEFAULT_PAGE_SIZE)
    }
}

/// One page of a list, and the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// Pass to [`PageRequest::after`] for the next page; `None` when there is none.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row only tells
    /// that a next page exists.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: u64, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|row| Cursor::after(id(row)))
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// The same page with its rows converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// A stored row that a list found but could not decode (a value written by other means, or
/// by another version): the same data as [`Error::Undecodable`], which reading that one row
/// answers.
///
/// A list whose rows can hold such values answers a `Page<Result<T, UndecodableRow>>`: each
/// row in its place, decoded or reported, so that one bad row never fails the whole page and
/// is never silently left out. [`Page::decoded`] and [`Page::undecodable`] split it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UndecodableRow {
    /// The table of the row.
    pub table: Table,
    /// The column that does not decode.
    pub column: &'static str,
    /// The row's id.
    pub row: Uuid,
}

impl From<UndecodableRow> for Error {
    fn from(row: UndecodableRow) -> Self {
        Error::Undecodable {
            table: row.table,
            column: row.column,
            row: row.row,
        }
    }
}

impl<T> Page<std::result::Result<T, UndecodableRow>> {
    /// The rows that decoded, in page order.
    pub fn decoded(&self) -> impl Iterator<Item = &T> {
        self.items.iter().filter_map(|item| item.as_ref().ok())
    }

    /// The rows that did not decode, in page order.
    pub fn undecodable(&self) -> impl Iterator<Item = &UndecodableRow> {
        self.items.iter().filter_map(|item| item.as_ref().err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_through_its_text_and_rejects_garbage() {
        let cursor = Cursor::after(Uuid::now_v7());
        assert_eq!(cursor.to_string().parse::<Cursor>().ok(), Some(cursor));
        for bad in ["", "xyz", "not-a-cursor-not-a-cursor-12345!"] {
            assert!(matches!(
                bad.parse::<Cursor>(),
                Err(Error::Invalid {
                    field: "cursor",
                    violation: Violation::Format
                })
            ));
        }
    }

    #[test]
    fn a_page_of_decoded_rows_splits_into_the_good_and_the_reported() {
        let bad = UndecodableRow {
            table: Table::AgentJobs,
            column: "input",
            row: Uuid::now_v7(),
        };
        let page = Page {
            items: vec![Ok(1), Err(bad), Ok(3)],
            next: None,
        };
        assert_eq!(page.decoded().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(page.undecodable().copied().collect::<Vec<_>>(), [bad]);
        assert!(matches!(
            Error::from(bad),
            Error::Undecodable { table: Table::AgentJobs, column: "input", row } if row == bad.row
        ));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(PageRequest::first(0).checked_limit().is_err());
        assert!(
            PageRequest::first(MAX_PAGE_SIZE + 1)
                .checked_limit()
                .is_err()
        );
        assert_eq!(
            PageRequest::first(MAX_PAGE_SIZE).checked_limit().ok(),
            Some(MAX_PAGE_SIZE)
        );
    }
}
