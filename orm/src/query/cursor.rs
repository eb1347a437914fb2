//! The opaque cursors of keyset pagination: a row's sort key values, encoded as URL-safe
//! text for APIs and checked against the query when decoded.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use sea_query::{Order, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::ColumnInfo;
use crate::value::SqlType;

/// The cursor format version, raised when the encoding changes.
const VERSION: u32 = 1;

/// The maximum length of cursor text accepted, so that a hostile client cannot make the server
/// decode megabytes. Long text sort keys make long cursors, hence the generous size.
const MAX_ENCODED_LEN: usize = 64 * 1024;

const NAIVE_DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";
const DATE_FORMAT: &str = "%Y-%m-%d";

/// The position of one row in a keyset-paginated query: the table, the sort keys and the
/// row's values of those keys. Pass it to [`Keyset::after`](crate::query::Keyset::after) or
/// [`Keyset::before`](crate::query::Keyset::before).
///
/// [`Display`](fmt::Display) writes it as URL-safe base64 text without padding, and
/// [`Cursor::parse`] reads that text back. The text is not signed or encrypted: a client
/// can decode it and read the sort key values, and can forge a cursor with other values
/// of the same types. A forged cursor only moves the position inside the same query,
/// because its values are bind parameters and the query's own filter still applies.
///
/// With serde, a cursor serializes as that text and deserializes through
/// [`Cursor::parse`], so it can sit in a request or response type as is.
#[derive(Clone, PartialEq)]
pub struct Cursor {
    payload: Payload,
}

/// The content of a cursor, serialized as JSON with short field names.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    #[serde(rename = "v")]
    version: u32,
    #[serde(rename = "t")]
    table: String,
    /// Sort keys as column names, with a leading `-` for descending ones.
    #[serde(rename = "k")]
    keys: Vec<String>,
    #[serde(rename = "x")]
    values: Vec<Json>,
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Cursor::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("table", &self.payload.table)
            .field("keys", &self.payload.keys)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // serde_json fails only on a failing Serialize impl or a non-string map key, and
        // this struct has neither.
        let json = serde_json::to_vec(&self.payload).unwrap_or_default();
        f.write_str(&URL_SAFE_NO_PAD.encode(json))
    }
}

impl std::str::FromStr for Cursor {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl Cursor {
    /// Reads a cursor from the text [`Display`](fmt::Display) wrote. Whether it fits a
    /// query is checked when it is passed to the query.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the text is too long, is not URL-safe base64, or does
    /// not contain a cursor of this version.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_ENCODED_LEN {
            return Err(invalid(format!(
                "it is {} bytes long and cursors are at most {MAX_ENCODED_LEN}",
                text.len()
            )));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|error| invalid(format!("it is not URL-safe base64 ({error})")))?;
        let payload: Payload = serde_json::from_slice(&bytes)
            .map_err(|error| invalid(format!("its content is malformed ({error})")))?;
        if payload.version != VERSION {
            return Err(invalid(format!(
                "it has format version {} and this covet reads version {VERSION}",
                payload.version
            )));
        }
        if payload.keys.len() != payload.values.len() {
            return Err(invalid(format!(
                "it has {} sort keys but {} values",
                payload.keys.len(),
                payload.values.len()
            )));
        }
        Ok(Self { payload })
    }

    /// Builds the cursor of a row from its sort key columns and their values.
    pub(crate) fn from_row(
        table: &'static str,
        keys: &[(&'static ColumnInfo, Order)],
        values: &[Value],
    ) -> Result<Self> {
        let values = keys
            .iter()
            .zip(values)
            .map(|((column, _), value)| value_to_json(column, value))
            .collect::<Result<Vec<_>>>()?;
        let payload = Payload {
            version: VERSION,
            table: table.to_owned(),
            keys: keys
                .iter()
                .map(|(column, order)| key_name(column, order))
                .collect(),
            values,
        };
        Ok(Self { payload })
    }

    /// Checks that this cursor was made by a query on `table` sorted by `keys`, and
    /// returns its values as bind parameters of the key columns' types.
    pub(crate) fn values_for(
        &self,
        table: &'static str,
        keys: &[(&'static ColumnInfo, Order)],
    ) -> Result<Vec<Value>> {
        let payload = &self.payload;
        if payload.table != table {
            return Err(invalid(format!(
                "it was made for table `{}`, not `{table}`",
                payload.table
            )));
        }
        let expected: Vec<String> = keys
            .iter()
            .map(|(column, order)| key_name(column, order))
            .collect();
        if payload.keys != expected {
            return Err(invalid(format!(
                "it was made for the sort order [{}], and this query sorts by [{}]; \
                 start again from the first page after changing the sort",
                describe_keys(&payload.keys),
                describe_keys(&expected)
            )));
        }
        keys.iter()
            .zip(&payload.values)
            .map(|((column, _), value)| json_to_value(column, value))
            .collect()
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidInput(format!(
        "invalid pagination cursor: {reason}; pass the cursor text exactly as a page of \
         the same query returned it"
    ))
}

fn key_name(column: &ColumnInfo, order: &Order) -> String {
    match order {
        Order::Desc => format!("-{}", column.name),
        _ => column.name.to_owned(),
    }
}

fn describe_keys(keys: &[String]) -> String {
    let described: Vec<String> = keys
        .iter()
        .map(|key| match key.strip_prefix('-') {
            Some(name) => format!("{name} desc"),
            None => format!("{key} asc"),
        })
        .collect();
    described.join(", ")
}

/// Converts a sort key value to JSON that [`json_to_value`] reads back exactly.
fn value_to_json(column: &ColumnInfo, value: &Value) -> Result<Json> {
    let json = match value {
        Value::Bool(Some(flag)) => Json::from(*flag),
        Value::SmallInt(Some(number)) => Json::from(*number),
        Value::Int(Some(number)) => Json::from(*number),
        Value::BigInt(Some(number)) => Json::from(*number),
        Value::BigUnsigned(Some(number)) => Json::from(*number),
        Value::Float(Some(number)) => finite(column, f64::from(*number))?,
        Value::Double(Some(number)) => finite(column, *number)?,
        Value::String(Some(text)) => Json::from(text.as_str()),
        Value::Bytes(Some(bytes)) => Json::from(to_hex(bytes)),
        Value::ChronoDateTimeUtc(Some(time)) => {
            Json::from(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
        Value::ChronoDateTime(Some(time)) => {
            Json::from(time.format(NAIVE_DATETIME_FORMAT).to_string())
        }
        Value::ChronoDate(Some(date)) => Json::from(date.format(DATE_FORMAT).to_string()),
        Value::Uuid(Some(uuid)) => Json::from(uuid.to_string()),
        Value::Decimal(Some(decimal)) => Json::from(decimal.to_string()),
        other => {
            return Err(Error::InvalidInput(format!(
                "the sort key column `{}` contains {other:?}, which a pagination cursor cannot \
                 store; sort by a non-null scalar column",
                column.name
            )));
        }
    };
    Ok(json)
}

fn finite(column: &ColumnInfo, number: f64) -> Result<Json> {
    serde_json::Number::from_f64(number)
        .map(Json::Number)
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "the sort key column `{}` contains {number}, and a pagination cursor cannot mark \
                 a position at NaN or infinity; filter those rows out or sort by another column",
                column.name
            ))
        })
}

/// Reads a cursor value as a bind parameter of the column's type, the same variant that
/// the column's field converts to.
fn json_to_value(column: &ColumnInfo, json: &Json) -> Result<Value> {
    let wrong = || {
        invalid(format!(
            "the value {json} does not fit the {:?} column `{}`",
            column.sql_type, column.name
        ))
    };
    let text = || json.as_str().ok_or_else(wrong);
    let value = match column.sql_type {
        SqlType::Bool => Value::from(json.as_bool().ok_or_else(wrong)?),
        SqlType::SmallInt => {
            let number = json.as_i64().ok_or_else(wrong)?;
            Value::from(i16::try_from(number).map_err(|_| wrong())?)
        }
        SqlType::Int => {
            let number = json.as_i64().ok_or_else(wrong)?;
            Value::from(i32::try_from(number).map_err(|_| wrong())?)
        }
        SqlType::BigInt => Value::from(json.as_i64().ok_or_else(wrong)?),
        SqlType::BigUnsigned => Value::from(json.as_u64().ok_or_else(wrong)?),
        SqlType::Float => {
            let number = json.as_f64().ok_or_else(wrong)?;
            // The value came from an f32 written as f64, so narrowing it back is exact.
            #[allow(clippy::cast_possible_truncation)]
            let narrow = number as f32;
            Value::from(narrow)
        }
        SqlType::Double => Value::from(json.as_f64().ok_or_else(wrong)?),
        SqlType::Text => Value::from(text()?.to_owned()),
        SqlType::Bytes => Value::from(from_hex(text()?).ok_or_else(wrong)?),
        SqlType::TimestampUtc => {
            let time = DateTime::parse_from_rfc3339(text()?).map_err(|_| wrong())?;
            Value::from(time.with_timezone(&Utc))
        }
        SqlType::Timestamp => Value::from(
            NaiveDateTime::parse_from_str(text()?, NAIVE_DATETIME_FORMAT).map_err(|_| wrong())?,
        ),
        SqlType::Date => {
            Value::from(NaiveDate::parse_from_str(text()?, DATE_FORMAT).map_err(|_| wrong())?)
        }
        SqlType::Uuid => Value::from(Uuid::parse_str(text()?).map_err(|_| wrong())?),
        SqlType::Decimal => Value::from(Decimal::from_str_exact(text()?).map_err(|_| wrong())?),
        _ => return Err(wrong()),
    };
    Ok(value)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: ColumnInfo = ColumnInfo {
        name: "id",
        field: "id",
        sql_type: SqlType::BigInt,
        nullable: false,
        primary_key: true,
        auto_increment: true,
        generated: true,
        unique: false,
        column_type: None,
    };

    const NAME: ColumnInfo = ColumnInfo {
        name: "name",
        field: "name",
        sql_type: SqlType::Text,
        nullable: false,
        primary_key: false,
        auto_increment: false,
        generated: false,
        unique: false,
        column_type: None,
    };

    fn keys() -> Vec<(&'static ColumnInfo, Order)> {
        vec![(&NAME, Order::Desc), (&ID, Order::Asc)]
    }

    #[test]
    fn cursor_round_trips_through_text() {
        let values = [Value::from("Ann / ?&="), Value::from(7i64)];
        let cursor = Cursor::from_row("people", &keys(), &values).unwrap();
        let text = cursor.to_string();
        assert!(
            text.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'),
            "URL-safe: {text}"
        );
        let parsed = Cursor::parse(&text).unwrap();
        assert_eq!(parsed, cursor);
        let read = parsed.values_for("people", &keys()).unwrap();
        assert_eq!(read, values);
    }

    #[test]
    fn cursor_serializes_as_its_text() {
        let values = [Value::from("Bob"), Value::from(3i64)];
        let cursor = Cursor::from_row("people", &keys(), &values).unwrap();
        let json = serde_json::to_string(&cursor).unwrap();
        assert_eq!(json, format!("\"{cursor}\""));
        let read: Cursor = serde_json::from_str(&json).unwrap();
        assert_eq!(read, cursor);
        let error = serde_json::from_str::<Cursor>("\"not a cursor\"").unwrap_err();
        assert!(
            error.to_string().contains("invalid pagination cursor"),
            "{error}"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_digits() {
        assert_eq!(from_hex(&to_hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("é0"), None);
    }

    #[test]
    fn cursor_rejects_nan() {
        const SCORE: ColumnInfo = ColumnInfo {
            name: "score",
            sql_type: SqlType::Double,
            ..NAME
        };
        let keys = [(&SCORE, Order::Asc)];
        let error = Cursor::from_row("people", &keys, &[Value::from(f64::NAN)]).unwrap_err();
        assert!(error.to_string().contains("`score`"), "{error}");
    }
}
