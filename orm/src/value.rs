//! The Rust types a model field may have, and how each maps to SQL.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sea_query::Value;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::row::RowReader;

/// The SQL type family of a column. Each backend picks its own column type for each family
/// (see [`Backend::column_type`](crate::backend::Backend::column_type)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SqlType {
    /// `bool`.
    Bool,
    /// `i16`.
    SmallInt,
    /// `i32`.
    Int,
    /// `i64`.
    BigInt,
    /// `u64`. Stored as BIGINT UNSIGNED on MySQL and as BIGINT elsewhere, where values
    /// above `i64::MAX` are rejected with [`Error::InvalidInput`].
    BigUnsigned,
    /// `f32`.
    Float,
    /// `f64`.
    Double,
    /// `String`.
    Text,
    /// `Vec<u8>`.
    Bytes,
    /// `chrono::DateTime<Utc>`.
    TimestampUtc,
    /// `chrono::NaiveDateTime`.
    Timestamp,
    /// `chrono::NaiveDate`.
    Date,
    /// `uuid::Uuid`.
    Uuid,
    /// `rust_decimal::Decimal`.
    Decimal,
    /// `serde_json::Value`, or any serde type marked `#[covet(json)]`.
    Json,
}

/// A Rust type that can be stored in one column.
///
/// Implemented for the supported scalar types and for `Option<T>` of them, where `None` is
/// SQL NULL. Reading NULL into a non-`Option` field is a decode error, never a default value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a covet column",
    label = "unsupported column type",
    note = "supported types: bool, i16, i32, i64, u64, f32, f64, String, Vec<u8>, \
            chrono::DateTime<Utc>, chrono::NaiveDateTime, chrono::NaiveDate, uuid::Uuid, \
            rust_decimal::Decimal, serde_json::Value, and an Option of any of them",
    note = "to store another serde type as JSON, mark the field #[covet(json)]"
)]
pub trait Field: Sized + Send + Sync + 'static {
    /// The SQL type family.
    const SQL_TYPE: SqlType;
    /// Whether the column accepts NULL.
    const NULLABLE: bool = false;

    /// Converts the value to a bind parameter.
    fn to_value(&self) -> Value;

    /// Reads the value at `index` of `row`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] naming the column when the value is NULL or does not fit.
    fn decode(row: &dyn RowReader, index: usize) -> Result<Self>;

    /// Returns whether this value means "let the database generate it" for a key marked
    /// `auto_increment` or `generated`: zero for integers and `None` for options.
    fn is_unset_key(&self) -> bool {
        false
    }
}

pub(crate) fn unexpected_null(row: &dyn RowReader, index: usize) -> Error {
    Error::decode(
        row.column_name(index),
        "unexpected NULL; declare the field as Option<T> to accept NULL",
    )
}

macro_rules! scalar_field {
    ($ty:ty, $sql:ident, $variant:ident, $read:ident, |$v:ident| $unset:expr) => {
        impl Field for $ty {
            const SQL_TYPE: SqlType = SqlType::$sql;

            fn to_value(&self) -> Value {
                Value::$variant(Some(self.clone().into()))
            }

            fn decode(row: &dyn RowReader, index: usize) -> Result<Self> {
                row.$read(index)?.ok_or_else(|| unexpected_null(row, index))
            }

            fn is_unset_key(&self) -> bool {
                let $v = self;
                $unset
            }
        }
    };
}

scalar_field!(bool, Bool, Bool, read_bool, |_v| false);
scalar_field!(i16, SmallInt, SmallInt, read_i16, |v| *v == 0);
scalar_field!(i32, Int, Int, read_i32, |v| *v == 0);
scalar_field!(i64, BigInt, BigInt, read_i64, |v| *v == 0);
scalar_field!(u64, BigUnsigned, BigUnsigned, read_u64, |v| *v == 0);
scalar_field!(f32, Float, Float, read_f32, |_v| false);
scalar_field!(f64, Double, Double, read_f64, |_v| false);
scalar_field!(String, Text, String, read_string, |_v| false);
scalar_field!(Vec<u8>, Bytes, Bytes, read_bytes, |_v| false);
scalar_field!(
    DateTime<Utc>,
    TimestampUtc,
    ChronoDateTimeUtc,
    read_datetime_utc,
    |_v| false
);
scalar_field!(
    NaiveDateTime,
    Timestamp,
    ChronoDateTime,
    read_naive_datetime,
    |_v| false
);
scalar_field!(NaiveDate, Date, ChronoDate, read_date, |_v| false);
scalar_field!(Uuid, Uuid, Uuid, read_uuid, |v| v.is_nil());
scalar_field!(Decimal, Decimal, Decimal, read_decimal, |_v| false);

impl Field for serde_json::Value {
    const SQL_TYPE: SqlType = SqlType::Json;

    fn to_value(&self) -> Value {
        Value::Json(Some(Box::new(self.clone())))
    }

    fn decode(row: &dyn RowReader, index: usize) -> Result<Self> {
        row.read_json(index)?
            .ok_or_else(|| unexpected_null(row, index))
    }
}

impl<T: Field> Field for Option<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;

    fn to_value(&self) -> Value {
        match self {
            Some(value) => value.to_value(),
            None => null_value(T::SQL_TYPE),
        }
    }

    fn decode(row: &dyn RowReader, index: usize) -> Result<Self> {
        if row.is_null(index)? {
            return Ok(None);
        }
        T::decode(row, index).map(Some)
    }

    fn is_unset_key(&self) -> bool {
        self.is_none()
    }
}

/// Returns the typed SQL NULL for a type family, so that backends that type their
/// parameters (PostgreSQL) bind NULL with the column's type.
pub(crate) fn null_value(sql_type: SqlType) -> Value {
    match sql_type {
        SqlType::Bool => Value::Bool(None),
        SqlType::SmallInt => Value::SmallInt(None),
        SqlType::Int => Value::Int(None),
        SqlType::BigInt => Value::BigInt(None),
        SqlType::BigUnsigned => Value::BigUnsigned(None),
        SqlType::Float => Value::Float(None),
        SqlType::Double => Value::Double(None),
        SqlType::Text => Value::String(None),
        SqlType::Bytes => Value::Bytes(None),
        SqlType::TimestampUtc => Value::ChronoDateTimeUtc(None),
        SqlType::Timestamp => Value::ChronoDateTime(None),
        SqlType::Date => Value::ChronoDate(None),
        SqlType::Uuid => Value::Uuid(None),
        SqlType::Decimal => Value::Decimal(None),
        SqlType::Json => Value::Json(None),
    }
}

/// A value that may be compared with, or assigned to, a column whose field type is `T`.
///
/// This is what makes `User::AGE.eq("ten")` a compile error: `&str` is a value of
/// `String` columns only.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` value cannot be used with a column of type `{T}`",
    label = "expected a value of the column's type `{T}`"
)]
pub trait ValueOf<T> {
    /// Converts the value to a bind parameter.
    fn into_value(self) -> Value;
}

impl<T: Field> ValueOf<T> for T {
    fn into_value(self) -> Value {
        self.to_value()
    }
}

impl<T: Field> ValueOf<Option<T>> for T {
    fn into_value(self) -> Value {
        self.to_value()
    }
}

impl ValueOf<String> for &str {
    fn into_value(self) -> Value {
        Value::String(Some(self.to_owned()))
    }
}

impl ValueOf<Option<String>> for &str {
    fn into_value(self) -> Value {
        Value::String(Some(self.to_owned()))
    }
}

impl ValueOf<String> for &String {
    fn into_value(self) -> Value {
        Value::String(Some(self.clone()))
    }
}

impl ValueOf<Vec<u8>> for &[u8] {
    fn into_value(self) -> Value {
        Value::Bytes(Some(self.to_vec()))
    }
}

/// Encodes a serde value for a `#[covet(json)]` field.
#[doc(hidden)]
pub fn json_to_value<T: serde::Serialize>(value: &T, column: &str) -> Result<Value> {
    serde_json::to_value(value)
        .map(|json| Value::Json(Some(Box::new(json))))
        .map_err(|error| {
            Error::InvalidInput(format!(
                "the value of column `{column}` cannot be serialized to JSON: {error}"
            ))
        })
}

/// Encodes an optional serde value for a `#[covet(json)]` field: `None` is SQL NULL.
#[doc(hidden)]
pub fn json_option_to_value<T: serde::Serialize>(value: &Option<T>, column: &str) -> Result<Value> {
    match value {
        Some(value) => json_to_value(value, column),
        None => Ok(Value::Json(None)),
    }
}

/// Decodes a `#[covet(json)]` field.
#[doc(hidden)]
pub fn json_decode<T: serde::de::DeserializeOwned>(row: &dyn RowReader, index: usize) -> Result<T> {
    let json = row
        .read_json(index)?
        .ok_or_else(|| unexpected_null(row, index))?;
    serde_json::from_value(json).map_err(|error| Error::decode(row.column_name(index), error))
}

/// Decodes an optional `#[covet(json)]` field: SQL NULL is `None`.
#[doc(hidden)]
pub fn json_option_decode<T: serde::de::DeserializeOwned>(
    row: &dyn RowReader,
    index: usize,
) -> Result<Option<T>> {
    match row.read_json(index)? {
        None => Ok(None),
        Some(json) => serde_json::from_value(json)
            .map(Some)
            .map_err(|error| Error::decode(row.column_name(index), error)),
    }
}
