//! Rows that own their data, for streams that hand out one row at a time.

/// Defines `$owned`, a row of `$row` that a stream can hand out by value, and implements
/// [`RowReader`](crate::row::RowReader) for it by reading through the backend's borrowing
/// reader `$reader`, so both decode every type the same way.
macro_rules! owned_row_reader {
    ($owned:ident, row: $row:ty, reader: $reader:ident $(,)?) => {
        /// One result row owned by a stream.
        pub(crate) struct $owned(pub(crate) $row);

        impl $crate::row::RowReader for $owned {
            fn len(&self) -> usize {
                $reader(&self.0).len()
            }

            fn column_name(&self, index: usize) -> &str {
                sqlx::Row::columns(&self.0)
                    .get(index)
                    .map(sqlx::Column::name)
                    .unwrap_or("?")
            }

            $crate::backend::owned_row::delegate_reads!(
                $reader,
                is_null: bool,
                read_bool: Option<bool>,
                read_i16: Option<i16>,
                read_i32: Option<i32>,
                read_i64: Option<i64>,
                read_u64: Option<u64>,
                read_f32: Option<f32>,
                read_f64: Option<f64>,
                read_string: Option<String>,
                read_bytes: Option<Vec<u8>>,
                read_datetime_utc: Option<chrono::DateTime<chrono::Utc>>,
                read_naive_datetime: Option<chrono::NaiveDateTime>,
                read_date: Option<chrono::NaiveDate>,
                read_uuid: Option<uuid::Uuid>,
                read_decimal: Option<rust_decimal::Decimal>,
                read_json: Option<serde_json::Value>,
            );
        }
    };
}
pub(crate) use owned_row_reader;

/// Writes `fn $method(&self, index) -> Result<$ty>` for each pair, reading through
/// `$reader(&self.0)`.
macro_rules! delegate_reads {
    ($reader:ident, $($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method(&self, index: usize) -> $crate::error::Result<$ty> {
                $reader(&self.0).$method(index)
            }
        )*
    };
}
pub(crate) use delegate_reads;
