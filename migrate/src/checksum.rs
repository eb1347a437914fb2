//! Content checksums of migration files.
//!
//! The runner stores a checksum beside each applied migration and compares it
//! with the file on disk, so that an edit to an applied migration is detected.
//! The checksum ignores how the file was saved: a leading UTF-8 byte order mark
//! (EF BB BF) is removed and CRLF and lone CR line endings become LF before
//! hashing. Every other byte counts, trailing whitespace and a missing final
//! newline included.
//!
//! [`ALGORITHM`] names this exact procedure and is stored beside every
//! checksum. Its meaning must never change, because databases already hold
//! checksums computed with it. A different normalization or hash needs a new
//! name, and the runner has to keep computing the old one for rows that carry
//! the old name. The frozen test vectors below fail on any such change.

use sha2::{Digest, Sha256};

/// Name of the checksum procedure, stored beside every checksum.
pub(crate) const ALGORITHM: &str = "sha256-lf-v1";

/// UTF-8 encoding of U+FEFF, the byte order mark some editors write first.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Computes the lowercase hex SHA-256 of the [normalized](normalize) bytes.
pub(crate) fn checksum(bytes: &[u8]) -> String {
    let digest = Sha256::digest(normalize(bytes));
    to_lower_hex(&digest)
}

/// Removes one leading UTF-8 byte order mark and turns CRLF and lone CR into LF.
///
/// The input need not be valid UTF-8: bytes other than CR are copied unchanged.
pub(crate) fn normalize(bytes: &[u8]) -> Vec<u8> {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut normalized = Vec::with_capacity(body.len());
    let mut rest = body.iter().copied().peekable();
    while let Some(byte) = rest.next() {
        if byte == b'\r' {
            normalized.push(b'\n');
            rest.next_if_eq(&b'\n');
        } else {
            normalized.push(byte);
        }
    }
    normalized
}

fn to_lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    const LF_FILE: &[u8] = b"CREATE TABLE t (id INT);\nINSERT INTO t VALUES ('a;b');\n";

    #[test]
    fn algorithm_name_is_frozen() {
        assert_eq!(ALGORITHM, "sha256-lf-v1");
    }

    #[test]
    fn line_endings_and_bom_are_ignored() {
        let crlf = b"CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES ('a;b');\r\n";
        let cr = b"CREATE TABLE t (id INT);\rINSERT INTO t VALUES ('a;b');\r";
        let bom_crlf = [UTF8_BOM, crlf.as_slice()].concat();
        let bom_lf = [UTF8_BOM, LF_FILE].concat();
        let expected = checksum(LF_FILE);
        for variant in [crlf.as_slice(), cr, &bom_crlf, &bom_lf] {
            assert_eq!(checksum(variant), expected, "{variant:?}");
        }
    }

    #[test]
    fn mixed_line_endings_normalize_per_break() {
        assert_eq!(normalize(b"a\r\nb\rc\nd\r\r\ne"), b"a\nb\nc\nd\n\ne");
    }

    #[test]
    fn edit_inside_string_literal_changes_the_checksum() {
        let edited = b"CREATE TABLE t (id INT);\nINSERT INTO t VALUES ('a;c');\n";
        assert_ne!(checksum(edited), checksum(LF_FILE));
    }

    #[test]
    fn trailing_newline_changes_the_checksum() {
        assert_ne!(checksum(b"SELECT 1;"), checksum(b"SELECT 1;\n"));
        assert_ne!(checksum(b"SELECT 1;\n"), checksum(b"SELECT 1;\n\n"));
    }

    #[test]
    fn only_one_leading_bom_is_removed() {
        assert_eq!(normalize(b"\xEF\xBB\xBF\xEF\xBB\xBFx"), b"\xEF\xBB\xBFx");
        assert_eq!(normalize(b"x\xEF\xBB\xBF"), b"x\xEF\xBB\xBF");
    }

    #[test]
    fn invalid_utf8_is_hashed_as_is() {
        assert_eq!(normalize(b"\xff\r\xfe"), b"\xff\n\xfe");
    }

    /// Each expected digest was computed once, outside this crate, with
    /// `printf '<normalized bytes>' | sha256sum` (GNU coreutils).
    #[test]
    fn frozen_test_vectors() {
        let vectors: [(&[u8], &str); 8] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"SELECT 1;\n",
                "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd",
            ),
            (
                b"CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES (1);\r\n",
                "658d79b02021172ce2614c9d26b098e064c690a7d219832fe29ffa7aef569005",
            ),
            (
                b"\xEF\xBB\xBFSELECT 1;\n",
                "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd",
            ),
            (
                "INSERT INTO t VALUES ('héllo wörld ✓');\n".as_bytes(),
                "437c91a39bd9adbc98c99bb9bf556d0fb150d33c0c10c9704f8b61a654f22692",
            ),
            (
                b"a\rb\r\nc",
                "ea7fb08b7a2dc4619ffb7c7bb38d95a2047935fa165d71b12efd3852a2e6d0cc",
            ),
            (
                b"x\r\r\n",
                "d1329c6d1284e888680db5b03619fc08bdf1ee0b172c946ca6d1f18f5ea40d61",
            ),
            (
                b"\xEF\xBB\xBF\xEF\xBB\xBF",
                "f1945cd6c19e56b3c1c78943ef5ec18116907a4ca1efc40a57d48ab1db7adfc5",
            ),
        ];
        for (input, expected) in vectors {
            assert_eq!(checksum(input), expected, "{input:?}");
        }
    }
}
