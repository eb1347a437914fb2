//! Keyset (cursor) pagination: pages that continue after or before a row's sort key
//! values, so that inserts and deletes between requests neither repeat nor skip rows.

use std::fmt;

use sea_query::{Expr, ExprTrait, Order, Value};

use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::{ColumnInfo, Model};
use crate::query::Select;
use crate::query::cursor::Cursor;
use crate::value::SqlType;

/// A keyset-paginated query, from [`Select::keyset`].
pub struct Keyset<M> {
    select: Select<M>,
    keys: Vec<(&'static ColumnInfo, Order)>,
    per_page: u64,
    position: Position,
}

/// The start of a page: the first row, or after or before a cursor's values.
#[derive(Clone, Debug)]
enum Position {
    First,
    After(Vec<Value>),
    Before(Vec<Value>),
}

impl<M> fmt::Debug for Keyset<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|(column, order)| (column.name, order))
            .collect();
        f.debug_struct("Keyset")
            .field("select", &self.select)
            .field("keys", &keys)
            .field("per_page", &self.per_page)
            .field("position", &self.position)
            .finish()
    }
}

/// One page of a keyset-paginated query.
#[derive(Clone, Debug, PartialEq)]
pub struct KeysetPage<M> {
    /// The rows of this page, in the query's sort order.
    pub items: Vec<M>,
    /// The position of the last row, for [`Keyset::after`]. On a page read forwards it is
    /// `None` when no row follows, which the page's query checks by reading one row more.
    /// On a page read backwards it is set whenever the page has rows, because the row at
    /// the cursor it started from follows them.
    pub next: Option<Cursor>,
    /// The position of the first row, for [`Keyset::before`]. On a page read backwards it
    /// is `None` when no row precedes. On a page read forwards it is `None` on the first
    /// page and set on every later page that has rows, without a check that the rows
    /// before it still exist.
    pub prev: Option<Cursor>,
}

impl<M: Model> Select<M> {
    /// Starts keyset pagination of this query, `per_page` rows at a time, sorted by the
    /// query's [`order_by`](Self::order_by) keys.
    ///
    /// Unless a sort column is `unique`, the primary key columns that are not already sort
    /// keys are added as final ascending keys, so that the order is total. With no sort
    /// key at all, rows are sorted by primary key.
    ///
    /// ```no_run
    /// # use covet::Model;
    /// # #[derive(Model)] #[covet(table = "posts")]
    /// # struct Post { #[covet(primary_key)] id: i64, score: i32 }
    /// # async fn demo(db: covet::Database, cursor: Option<&str>) -> covet::Result<()> {
    /// let mut query = Post::query().order_by_desc(Post::SCORE).keyset(20)?;
    /// if let Some(text) = cursor {
    ///     query = query.after(&text.parse()?)?;
    /// }
    /// let page = query.fetch(&db).await?;
    /// let next_link = page.next.map(|cursor| cursor.to_string());
    /// # Ok(()) }
    /// ```
    ///
    /// Each page runs `... WHERE <filter> AND <position> ORDER BY <keys> LIMIT per_page + 1`.
    /// For keys `score DESC, id ASC` after the row (10, 7), the position condition is
    /// `score < 10 OR (score = 10 AND id > 7)`, with 10 and 7 as bind values.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `per_page` is 0, when the query has a limit or offset,
    /// or when a sort column is nullable or JSON. NULL sorts first on some backends and
    /// last on others, and no comparison with NULL is true, so a cursor cannot mark a
    /// position among NULLs.
    pub fn keyset(self, per_page: u64) -> Result<Keyset<M>> {
        if per_page == 0 {
            return Err(Error::InvalidInput(String::from(
                "per_page 0 is invalid: pass a page size of at least 1",
            )));
        }
        if self.limit.is_some() || self.offset.is_some() {
            return Err(Error::InvalidInput(String::from(
                "keyset pagination sets the query's LIMIT itself and uses no OFFSET; remove \
                 limit(..) and offset(..) from the query",
            )));
        }
        let keys = sort_keys::<M>(&self.order)?;
        Ok(Keyset {
            select: self,
            keys,
            per_page,
            position: Position::First,
        })
    }
}

/// Returns the columns and orders of the sort, made total with the primary key.
fn sort_keys<M: Model>(
    order: &[(&'static str, Order)],
) -> Result<Vec<(&'static ColumnInfo, Order)>> {
    let mut keys = Vec::new();
    for (name, direction) in order {
        let column = M::COLUMNS
            .iter()
            .find(|column| column.name == *name)
            .ok_or_else(|| {
                Error::InvalidInput(format!("`{name}` is not a column of `{}`", M::TABLE))
            })?;
        check_sort_column::<M>(column)?;
        if keys
            .iter()
            .any(|(key, _): &(&ColumnInfo, Order)| key.name == column.name)
        {
            continue;
        }
        keys.push((column, direction.clone()));
    }
    let unique = keys.iter().any(|(column, _)| column.unique);
    if !unique {
        for column in M::COLUMNS.iter().filter(|column| column.primary_key) {
            if !keys.iter().any(|(key, _)| key.name == column.name) {
                keys.push((column, Order::Asc));
            }
        }
    }
    if keys.is_empty() {
        return Err(Error::InvalidInput(format!(
            "`{}` has no primary key, so keyset pagination needs a sort by a unique column",
            M::TABLE
        )));
    }
    Ok(keys)
}

fn check_sort_column<M: Model>(column: &ColumnInfo) -> Result<()> {
    if column.nullable {
        return Err(Error::InvalidInput(format!(
            "keyset pagination cannot sort by the nullable column `{}.{}`: a cursor cannot \
             mark a position among NULLs; sort by a non-null column, or use paginate",
            M::TABLE,
            column.name
        )));
    }
    if column.sql_type == SqlType::Json {
        return Err(Error::InvalidInput(format!(
            "keyset pagination cannot sort by the JSON column `{}.{}`; sort by a scalar column",
            M::TABLE,
            column.name
        )));
    }
    Ok(())
}

impl<M: Model> Keyset<M> {
    /// Continues with the rows after `cursor`, such as the `next` cursor of a page.
    /// Replaces any earlier position.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the cursor was made for another table or sort order,
    /// or a value does not fit its column's type.
    pub fn after(mut self, cursor: &Cursor) -> Result<Self> {
        self.position = Position::After(cursor.values_for(M::TABLE, &self.keys)?);
        Ok(self)
    }

    /// Continues with the rows before `cursor`, such as the `prev` cursor of a page. The
    /// page's items are still in the query's sort order.
    ///
    /// # Errors
    ///
    /// As for [`after`](Self::after).
    pub fn before(mut self, cursor: &Cursor) -> Result<Self> {
        self.position = Position::Before(cursor.values_for(M::TABLE, &self.keys)?);
        Ok(self)
    }

    /// Reads the page.
    ///
    /// # Errors
    ///
    /// The errors of [`Select::all`], and [`Error::InvalidInput`] when a row's sort value
    /// cannot go into a cursor, such as a NaN float.
    pub async fn fetch<E: Executor + ?Sized>(self, db: &E) -> Result<KeysetPage<M>> {
        let backwards = matches!(self.position, Position::Before(_));
        let mut items = self.page_query(backwards).all(db).await?;
        let per_page = usize::try_from(self.per_page).unwrap_or(usize::MAX);
        let more = items.len() > per_page;
        items.truncate(per_page);
        if backwards {
            items.reverse();
        }

        let started_at_cursor = !matches!(self.position, Position::First);
        let (has_next, has_prev) = if backwards {
            (true, more)
        } else {
            (more, started_at_cursor)
        };
        let next = match items.last() {
            Some(row) if has_next => Some(self.cursor(row)?),
            _ => None,
        };
        let prev = match items.first() {
            Some(row) if has_prev => Some(self.cursor(row)?),
            _ => None,
        };
        Ok(KeysetPage { items, next, prev })
    }

    /// Returns the query of one page plus one row. That extra row, when present, shows
    /// that more rows follow.
    /// Reading backwards, it runs in the reverse sort order from the cursor.
    fn page_query(&self, backwards: bool) -> Select<M> {
        let mut query = self.select.clone();
        query.order = self
            .keys
            .iter()
            .map(|(column, order)| (column.name, directed(order, backwards)))
            .collect();
        match &self.position {
            Position::First => {}
            Position::After(values) => query = query.filter(self.condition(values, false)),
            Position::Before(values) => query = query.filter(self.condition(values, true)),
        }
        query.limit(self.per_page.saturating_add(1))
    }

    /// Returns the condition matching rows after (or with `before`, before) the position
    /// `values`: for keys k1..kn, the OR over i of `k1 = v1 AND .. AND k(i-1) = v(i-1) AND
    /// ki > vi`, with `<` in place of `>` for a descending key, and the reverse before.
    fn condition(&self, values: &[Value], before: bool) -> Filter<M> {
        let mut any: Option<Expr> = None;
        for index in 0..self.keys.len() {
            let mut all: Option<Expr> = None;
            for (position, ((column, order), value)) in self.keys.iter().zip(values).enumerate() {
                let expr = Expr::col((M::TABLE, column.name));
                let term = if position < index {
                    expr.eq(value.clone())
                } else if ascending(order) != before {
                    expr.gt(value.clone())
                } else {
                    expr.lt(value.clone())
                };
                all = Some(match all {
                    Some(all) => all.and(term),
                    None => term,
                });
                if position == index {
                    break;
                }
            }
            if let Some(all) = all {
                any = Some(match any {
                    Some(any) => any.or(all),
                    None => all,
                });
            }
        }
        any.map(Filter::from_expr).unwrap_or_else(Filter::all)
    }

    fn cursor(&self, row: &M) -> Result<Cursor> {
        let all = row.values()?;
        let values: Vec<Value> = self
            .keys
            .iter()
            .map(|(column, _)| {
                let index = M::COLUMNS
                    .iter()
                    .position(|candidate| candidate.name == column.name)
                    .unwrap_or_default();
                all.get(index).cloned().unwrap_or(Value::Bool(None))
            })
            .collect();
        Cursor::from_row(M::TABLE, &self.keys, &values)
    }
}

fn ascending(order: &Order) -> bool {
    !matches!(order, Order::Desc)
}

/// Returns `order`, flipped when reading backwards.
fn directed(order: &Order, backwards: bool) -> Order {
    match (ascending(order), backwards) {
        (true, false) | (false, true) => Order::Asc,
        _ => Order::Desc,
    }
}
