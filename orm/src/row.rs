//! Reading typed values out of a result row, independent of the backend.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::Result;

/// Typed access to the columns of one result row, by position.
///
/// Each backend implements this for its row type; generated model code calls it through
/// [`Field::decode`](crate::Field::decode). Every method returns `Ok(None)` for SQL NULL and
/// a [`Error::Decode`](crate::Error::Decode) naming the column when the value does not fit
/// the requested type.
#[allow(missing_docs)]
pub trait RowReader {
    /// Returns the number of columns.
    fn len(&self) -> usize;
    /// Returns whether the row has no columns.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Returns the name of the column at `index`.
    fn column_name(&self, index: usize) -> &str;
    /// Returns whether the column at `index` is SQL NULL.
    fn is_null(&self, index: usize) -> Result<bool>;
    fn read_bool(&self, index: usize) -> Result<Option<bool>>;
    fn read_i16(&self, index: usize) -> Result<Option<i16>>;
    fn read_i32(&self, index: usize) -> Result<Option<i32>>;
    fn read_i64(&self, index: usize) -> Result<Option<i64>>;
    fn read_u64(&self, index: usize) -> Result<Option<u64>>;
    fn read_f32(&self, index: usize) -> Result<Option<f32>>;
    fn read_f64(&self, index: usize) -> Result<Option<f64>>;
    fn read_string(&self, index: usize) -> Result<Option<String>>;
    fn read_bytes(&self, index: usize) -> Result<Option<Vec<u8>>>;
    fn read_datetime_utc(&self, index: usize) -> Result<Option<DateTime<Utc>>>;
    fn read_naive_datetime(&self, index: usize) -> Result<Option<NaiveDateTime>>;
    fn read_date(&self, index: usize) -> Result<Option<NaiveDate>>;
    fn read_uuid(&self, index: usize) -> Result<Option<Uuid>>;
    fn read_decimal(&self, index: usize) -> Result<Option<Decimal>>;
    fn read_json(&self, index: usize) -> Result<Option<serde_json::Value>>;
}
