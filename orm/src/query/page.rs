//! Offset pagination: numbered pages of a SELECT with the total row count.

use sea_query::Order;

use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::Select;

/// One page of a query, from [`Select::paginate`]. Pages are numbered from 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<M> {
    /// The rows of this page: at most `per_page`, none for a page past the end.
    pub items: Vec<M>,
    /// The number of rows matching the query's filter, on every page.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// The page size requested.
    pub per_page: u64,
    /// The number of pages holding rows: `total / per_page` rounded up, 0 when no row
    /// matches.
    pub total_pages: u64,
}

impl<M: Model> Select<M> {
    /// Returns page `page` (numbered from 1) of `per_page` rows, with the total number of
    /// matching rows. The total is a `COUNT(*)` over the same filter; the rows come from
    /// the query with `LIMIT per_page OFFSET (page - 1) * per_page`.
    ///
    /// The primary key columns not already sorted on are added as final ascending sort
    /// keys, so that rows with equal sort values keep one order and no row appears on two
    /// pages. A page past the end has no items and the same total.
    ///
    /// The count and the rows are two statements. On a [`Database`](crate::Database), a
    /// write between them can make `total` disagree with the rows. Run both in a
    /// transaction when they must agree, at an isolation level that keeps one snapshot for
    /// the whole transaction: REPEATABLE READ, the MySQL default, does, and PostgreSQL's
    /// default READ COMMITTED does not. Large
    /// offsets make the database skip every earlier row, so for deep pages prefer
    /// [`keyset`](Self::keyset).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `page` or `per_page` is 0, when the query already has
    /// a limit or offset, or when the offset would pass `i64::MAX`; and the errors of
    /// [`count`](Self::count) and [`all`](Self::all).
    pub async fn paginate<E: Executor + ?Sized>(
        self,
        db: &E,
        page: u64,
        per_page: u64,
    ) -> Result<Page<M>> {
        let offset = page_offset(page, per_page)?;
        if self.limit.is_some() || self.offset.is_some() {
            return Err(Error::InvalidInput(String::from(
                "paginate sets the query's LIMIT and OFFSET itself; remove limit(..) and \
                 offset(..) from the query",
            )));
        }
        let total = self.clone().count(db).await?;
        let mut rows = self.limit(per_page).offset(offset);
        append_key_tiebreaker::<M>(&mut rows.order);
        let items = rows.all(db).await?;
        Ok(Page {
            items,
            total,
            page,
            per_page,
            total_pages: total.div_ceil(per_page),
        })
    }
}

/// Returns the offset of page `page`, checking both numbers.
fn page_offset(page: u64, per_page: u64) -> Result<u64> {
    if page == 0 {
        return Err(Error::InvalidInput(String::from(
            "page 0 is invalid: pages are numbered from 1",
        )));
    }
    if per_page == 0 {
        return Err(Error::InvalidInput(String::from(
            "per_page 0 is invalid: pass a page size of at least 1",
        )));
    }
    (page - 1)
        .checked_mul(per_page)
        .filter(|offset| i64::try_from(*offset).is_ok())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "page {page} of {per_page} rows starts past row {}, the largest offset \
                 databases accept; request a smaller page number",
                i64::MAX
            ))
        })
}

/// Appends the model's primary key columns that `order` lacks, ascending.
fn append_key_tiebreaker<M: Model>(order: &mut Vec<(&'static str, Order)>) {
    for column in M::COLUMNS.iter().filter(|column| column.primary_key) {
        if !order.iter().any(|(name, _)| *name == column.name) {
            order.push((column.name, Order::Asc));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_offset_checks_numbers() {
        assert_eq!(page_offset(1, 10).unwrap(), 0);
        assert_eq!(page_offset(3, 10).unwrap(), 20);
        let zero_page = page_offset(0, 10).unwrap_err().to_string();
        assert!(zero_page.contains("page 0"), "{zero_page}");
        let zero_size = page_offset(1, 0).unwrap_err().to_string();
        assert!(zero_size.contains("per_page 0"), "{zero_size}");
        let huge = page_offset(u64::MAX, 2).unwrap_err().to_string();
        assert!(huge.contains(&u64::MAX.to_string()), "{huge}");
    }
}
