//! Typed column handles and the filters built from them.

use std::fmt;
use std::marker::PhantomData;

use sea_query::{Expr, ExprTrait, LikeExpr, Value};

use crate::filter::{Filter, Needs};
use crate::model::Model;
use crate::value::{Field, SqlType, ValueOf};

/// The column of model `M` whose field has type `T`.
///
/// `#[derive(Model)]` generates one as an associated constant per field, named after the
/// field in upper case (`User::EMAIL`). Comparisons take values of the field's type only,
/// so `User::AGE.eq("ten")` does not compile.
pub struct Column<M, T> {
    name: &'static str,
    index: usize,
    get: fn(&M) -> &T,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Column<M, T> {}

impl<M, T> fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Column")
            .field("name", &self.name)
            .field("index", &self.index)
            .finish()
    }
}

impl<M, T> Column<M, T> {
    /// Creates a handle for the column at `index` of the model's columns, whose field
    /// `get` returns. Generated code calls this; `index` must match the model's column
    /// order.
    #[doc(hidden)]
    pub const fn new(name: &'static str, index: usize, get: fn(&M) -> &T) -> Self {
        Self { name, index, get }
    }

    /// Returns the column name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Returns this column's field of `row`.
    pub fn get<'a>(&self, row: &'a M) -> &'a T {
        (self.get)(row)
    }
}

impl<M: Model, T> Column<M, T> {
    fn expr(&self) -> Expr {
        Expr::col((M::TABLE, self.name))
    }

    /// Matches rows where the column is NULL.
    pub fn is_null(self) -> Filter<M> {
        Filter::from_expr(self.expr().is_null())
    }

    /// Matches rows where the column is not NULL.
    pub fn is_not_null(self) -> Filter<M> {
        Filter::from_expr(self.expr().is_not_null())
    }
}

impl<M: Model, T: Field> Column<M, T> {
    /// Wraps a comparison of this column, noting that decimal comparisons need a backend
    /// that compares decimals by value.
    fn compare(&self, expr: Expr) -> Filter<M> {
        let needs = Needs {
            decimal_comparison: T::SQL_TYPE == SqlType::Decimal,
            ..Needs::default()
        };
        Filter::with_needs(expr, needs)
    }

    /// Matches rows where the column equals `value`. On a nullable column, `eq(None)`
    /// matches NULL (`IS NULL`), not nothing.
    pub fn eq(self, value: impl ValueOf<T>) -> Filter<M> {
        let value = value.into_value();
        if is_null(&value) {
            return self.is_null();
        }
        self.compare(self.expr().eq(value))
    }

    /// Matches rows where the column differs from `value`. `ne(None)` matches every
    /// non-NULL value (`IS NOT NULL`). As in SQL, a NULL column matches no `ne(Some(..))`.
    pub fn ne(self, value: impl ValueOf<T>) -> Filter<M> {
        let value = value.into_value();
        if is_null(&value) {
            return self.is_not_null();
        }
        self.compare(self.expr().ne(value))
    }

    /// Matches rows where the column is less than `value`.
    pub fn lt(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(self.expr().lt(value.into_value()))
    }

    /// Matches rows where the column is less than or equal to `value`.
    pub fn le(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(self.expr().lte(value.into_value()))
    }

    /// Matches rows where the column is greater than `value`.
    pub fn gt(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(self.expr().gt(value.into_value()))
    }

    /// Matches rows where the column is greater than or equal to `value`.
    pub fn ge(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(self.expr().gte(value.into_value()))
    }

    /// Matches rows where `low <= column <= high`.
    pub fn between(self, low: impl ValueOf<T>, high: impl ValueOf<T>) -> Filter<M> {
        self.compare(self.expr().between(low.into_value(), high.into_value()))
    }

    /// Matches rows where the column equals one of `values`. An empty list matches no row.
    pub fn is_in<V: ValueOf<T>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        let values: Vec<Value> = values.into_iter().map(ValueOf::into_value).collect();
        if values.is_empty() {
            return Filter::none();
        }
        self.compare(self.expr().is_in(values))
    }

    /// Matches rows where the column equals none of `values`. An empty list matches every
    /// row, NULLs included.
    pub fn is_not_in<V: ValueOf<T>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        let values: Vec<Value> = values.into_iter().map(ValueOf::into_value).collect();
        if values.is_empty() {
            return Filter::all();
        }
        self.compare(self.expr().is_not_in(values))
    }
}

impl<M: Model, T: Field + TextLike> Column<M, T> {
    /// Matches rows where the column matches the LIKE `pattern`, in which `%` matches any
    /// text, `_` one character and `\` escapes the next character. Build patterns from
    /// user text with [`escape_like`], or use [`contains`](Self::contains),
    /// [`starts_with`](Self::starts_with) and [`ends_with`](Self::ends_with).
    ///
    /// Case sensitivity follows the backend: PostgreSQL compares case-sensitively, SQLite
    /// ignores ASCII case, and MySQL follows the column's collation.
    pub fn like(self, pattern: impl Into<String>) -> Filter<M> {
        let pattern = pattern.into();
        let needs = like_needs(&pattern);
        Filter::with_needs(self.expr().like(LikeExpr::new(pattern).escape('\\')), needs)
    }

    /// Matches rows where the column does not match the LIKE `pattern`.
    pub fn not_like(self, pattern: impl Into<String>) -> Filter<M> {
        let pattern = pattern.into();
        let needs = like_needs(&pattern);
        Filter::with_needs(
            self.expr().not_like(LikeExpr::new(pattern).escape('\\')),
            needs,
        )
    }

    /// Matches rows where the column contains `text` literally: `%` and `_` in `text`
    /// match themselves.
    pub fn contains(self, text: &str) -> Filter<M> {
        self.like(format!("%{}%", escape_like(text)))
    }

    /// Matches rows where the column starts with `text` literally.
    pub fn starts_with(self, text: &str) -> Filter<M> {
        self.like(format!("{}%", escape_like(text)))
    }

    /// Matches rows where the column ends with `text` literally.
    pub fn ends_with(self, text: &str) -> Filter<M> {
        self.like(format!("%{}", escape_like(text)))
    }
}

fn like_needs(pattern: &str) -> Needs {
    Needs {
        nul_in_like: pattern.contains('\0'),
        ..Needs::default()
    }
}

/// Field types that LIKE applies to.
pub trait TextLike {}
impl TextLike for String {}
impl TextLike for Option<String> {}

/// Escapes `\`, `%` and `_` in `text` so that it matches itself inside a LIKE pattern built
/// for [`Column::like`], which uses `\` as its escape character.
///
/// ```
/// assert_eq!(covet::escape_like("100%_off\\"), "100\\%\\_off\\\\");
/// ```
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn is_null(value: &Value) -> bool {
    *value == value.as_null()
}

/// A column of model `M` without its field type, for lists of columns such as
/// [`Model::update_columns`] and for columns named at run time.
pub struct ColumnRef<M> {
    name: &'static str,
    index: usize,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Clone for ColumnRef<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for ColumnRef<M> {}

impl<M> fmt::Debug for ColumnRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ColumnRef").field(&self.name).finish()
    }
}

impl<M> PartialEq for ColumnRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl<M, T> From<Column<M, T>> for ColumnRef<M> {
    fn from(column: Column<M, T>) -> Self {
        Self {
            name: column.name,
            index: column.index,
            _marker: PhantomData,
        }
    }
}

impl<M: Model> ColumnRef<M> {
    /// Looks up a column by its database name, for names that arrive at run time such as a
    /// sort key from a request.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the value and listing the
    /// valid column names.
    pub fn by_name(name: &str) -> crate::Result<Self> {
        match M::COLUMNS.iter().position(|column| column.name == name) {
            Some(index) => Ok(Self {
                name: M::COLUMNS[index].name,
                index,
                _marker: PhantomData,
            }),
            None => {
                let valid: Vec<&str> = M::COLUMNS.iter().map(|column| column.name).collect();
                Err(crate::Error::InvalidInput(format!(
                    "`{name}` is not a column of table `{}`; use one of: {}",
                    M::TABLE,
                    valid.join(", ")
                )))
            }
        }
    }

    /// Returns the column name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the column's position in [`Model::COLUMNS`].
    pub fn index(&self) -> usize {
        self.index
    }
}
