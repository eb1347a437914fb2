//! Splitting of migration files into SQL statements, and statement checks.
//!
//! [`split_statements`] tokenizes a file with the quoting and comment rules of
//! one [`Dialect`] and ends a statement at each semicolon that is outside of
//!
//! - string literals (`''` doubling everywhere, backslash escapes on MySQL and
//!   in PostgreSQL `E'...'` strings),
//! - quoted identifiers (`"..."`, MySQL and SQLite backticks, SQLite `[...]`),
//! - PostgreSQL dollar-quoted bodies (`$$...$$`, `$tag$...$tag$`),
//! - comments (`--`, MySQL `#`, `/* */` nested on PostgreSQL),
//! - parentheses, as in a PostgreSQL `CREATE RULE ... DO (a; b)`,
//! - the `BEGIN ... END` body of a routine or trigger definition: SQLite and
//!   MySQL triggers, MySQL procedures, functions and events, and PostgreSQL
//!   `BEGIN ATOMIC` function bodies.
//!
//! The lexer assumes each server's default settings: PostgreSQL with
//! `standard_conforming_strings = on`, MySQL without the `ANSI_QUOTES` and
//! `NO_BACKSLASH_ESCAPES` SQL modes (so `"..."` is a string literal there).
//! Client-side commands are not SQL and are not understood. A MySQL
//! `DELIMITER` line is rejected with an error, and psql meta-commands or
//! `COPY ... FROM stdin` data would be split as if they were SQL.

use std::fmt;

/// SQL dialect whose quoting, comment and transaction rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// Statement text from its first to its last token, so without leading or
    /// trailing comments and without the terminating semicolon.
    pub(crate) text: String,
    /// 1-based line of the file on which the statement starts.
    pub(crate) line: usize,
}

/// Error of [`split_statements`]: a construct that the file never closes, or
/// a MySQL `DELIMITER` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LexError {
    /// 1-based line on which the reported construct starts.
    pub(crate) line: usize,
    /// The kind of construct.
    pub(crate) kind: LexErrorKind,
}

/// Kind of construct that a [`LexError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexErrorKind {
    /// A `'...'` string, or a `"..."` string on MySQL.
    UnterminatedString,
    /// A `"..."`, backtick or SQLite `[...]` identifier.
    UnterminatedQuotedIdentifier,
    /// A PostgreSQL `$$...$$` or `$tag$...$tag$` body.
    UnterminatedDollarQuote,
    /// A `/* ... */` comment.
    UnterminatedBlockComment,
    /// A `(` without its `)` before the end of the file.
    UnclosedParenthesis,
    /// A routine or trigger `BEGIN` without its `END`.
    UnterminatedBlock,
    /// A MySQL client `DELIMITER` command, which the server does not accept.
    DelimiterCommand,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line;
        let construct = match self.kind {
            LexErrorKind::UnterminatedString => "unterminated string literal starting",
            LexErrorKind::UnterminatedQuotedIdentifier => "unterminated quoted identifier starting",
            LexErrorKind::UnterminatedDollarQuote => "unterminated dollar-quoted string starting",
            LexErrorKind::UnterminatedBlockComment => "unterminated block comment starting",
            LexErrorKind::UnclosedParenthesis => "unclosed parenthesis opened",
            LexErrorKind::UnterminatedBlock => "BEGIN block without a matching END, opened",
            LexErrorKind::DelimiterCommand => {
                return write!(
                    f,
                    "DELIMITER at line {line} is a mysql client command that the server \
                     rejects, so remove it and end each statement with a plain semicolon"
                );
            }
        };
        write!(f, "{construct} at line {line}")
    }
}

impl std::error::Error for LexError {}

/// Splits `sql` into statements at top-level semicolons.
///
/// Statements that contain only whitespace and comments are dropped, and the
/// last statement needs no semicolon. A leading byte order mark is skipped.
/// Line numbers count LF, CRLF and lone CR as one line break each.
///
/// # Errors
///
/// A [`LexError`] for a string, quoted identifier, dollar quote, comment,
/// parenthesis or `BEGIN ... END` body that is still open at the end of `sql`,
/// and for a MySQL `DELIMITER` command.
pub(crate) fn split_statements(sql: &str, dialect: Dialect) -> Result<Vec<Statement>, LexError> {
    let mut splitter = Splitter {
        sql,
        dialect,
        statements: Vec::new(),
        current: None,
    };
    for token in Lexer::new(sql, dialect) {
        splitter.push(token?)?;
    }
    splitter.finish()
}

/// Describes why `statement` cannot run inside a transaction block, or returns
/// `None` when it can.
///
/// `statement` is one statement as [`split_statements`] returns it. Keywords
/// match case-insensitively and only as unquoted words outside of comments,
/// string literals and parentheses. Flagged statements:
///
/// - PostgreSQL: `CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX
///   CONCURRENTLY`, `REINDEX ... CONCURRENTLY`, `REINDEX SCHEMA | DATABASE |
///   SYSTEM`, `VACUUM`, `CREATE | DROP DATABASE`, `CREATE | DROP TABLESPACE`,
///   `ALTER SYSTEM`, `ALTER DATABASE ... SET TABLESPACE` and `ALTER TABLE ...
///   DETACH PARTITION ... CONCURRENTLY`. `ALTER TYPE ... ADD VALUE` runs in a
///   transaction since PostgreSQL 12 and is not flagged.
/// - SQLite: `VACUUM`, and `PRAGMA foreign_keys`, `journal_mode` or
///   `synchronous` with a value. SQLite ignores a `foreign_keys` change inside
///   a transaction, and rejects a `synchronous` change or a `journal_mode`
///   change into or out of WAL there.
/// - MySQL: nothing, because DDL there commits implicitly in any case.
pub(crate) fn needs_no_transaction(statement: &str, dialect: Dialect) -> Option<&'static str> {
    match dialect {
        Dialect::Postgres => postgres_non_transactional(&top_level_lexemes(statement, dialect)),
        Dialect::Sqlite => sqlite_non_transactional(&top_level_lexemes(statement, dialect)),
        Dialect::MySql => None,
    }
}

/// Returns the transaction-control statement `statement` is, such as `COMMIT`, or `None`.
/// Inside a migration the runner wraps in a transaction, such a statement would end that
/// transaction early. MariaDB's `BEGIN NOT ATOMIC` block is not one.
pub(crate) fn transaction_control(statement: &str, dialect: Dialect) -> Option<&'static str> {
    let lexemes = top_level_lexemes(statement, dialect);
    let second = word_at(&lexemes, 1);
    match word_at(&lexemes, 0)? {
        "begin" if second == Some("not") => None,
        "begin" => Some("BEGIN"),
        "start" if second == Some("transaction") => Some("START TRANSACTION"),
        "commit" => Some("COMMIT"),
        "rollback" => Some("ROLLBACK"),
        "abort" => Some("ABORT"),
        "savepoint" => Some("SAVEPOINT"),
        "release" => Some("RELEASE SAVEPOINT"),
        "end" if lexemes.len() <= 2 => Some("END"),
        _ => None,
    }
}

/// Returns the word after `-- covet:` when that is the first non-blank line.
///
/// A leading byte order mark and whitespace around the parts are ignored, so
/// `-- covet:no-transaction` and `--covet: no-transaction ` both return
/// `Some("no-transaction")`. Everything after `covet:` up to the line end is
/// returned, so the caller must reject anything that is not a known directive.
pub(crate) fn first_line_directive(sql: &str) -> Option<&str> {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let line = sql
        .split(['\n', '\r'])
        .map(str::trim)
        .find(|line| !line.is_empty())?;
    let directive = line
        .strip_prefix("--")?
        .trim_start()
        .strip_prefix("covet:")?
        .trim();
    (!directive.is_empty()).then_some(directive)
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Whitespace,
    Comment,
    /// MySQL `/*! ... */` or MariaDB `/*M! ... */`, whose body the server runs.
    ExecutableComment,
    /// Unquoted identifier, keyword or number.
    Word,
    /// String literal, quoted identifier or dollar-quoted body.
    Quoted,
    Semicolon,
    OpenParen,
    CloseParen,
    /// Any other single character, or a `$1` parameter.
    Symbol,
}

impl TokenKind {
    fn is_significant(self) -> bool {
        !matches!(self, Self::Whitespace | Self::Comment)
    }
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    /// Byte range in the lexed text.
    start: usize,
    end: usize,
    /// 1-based line of `start`.
    line: usize,
}

/// Tokenizer over a whole file, yielding every byte as part of some token.
///
/// All delimiters are ASCII and every byte of a multi-byte UTF-8 character is
/// at least 0x80, so byte-wise scanning keeps token bounds on char boundaries.
#[derive(Debug)]
struct Lexer<'a> {
    bytes: &'a [u8],
    dialect: Dialect,
    pos: usize,
    line: usize,
    failed: bool,
}

impl Iterator for Lexer<'_> {
    type Item = Result<Token, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let (start, line) = (self.pos, self.line);
        match self.scan_token() {
            Ok(kind) => Some(Ok(Token {
                kind,
                start,
                end: self.pos,
                line,
            })),
            Err(kind) => {
                self.failed = true;
                Some(Err(LexError { line, kind }))
            }
        }
    }
}

impl<'a> Lexer<'a> {
    fn new(sql: &'a str, dialect: Dialect) -> Self {
        let bom_len = if sql.starts_with('\u{feff}') { 3 } else { 0 };
        Self {
            bytes: sql.as_bytes(),
            dialect,
            pos: bom_len,
            line: 1,
            failed: false,
        }
    }

    fn peek(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    /// Moves past one byte, counting LF, CRLF and lone CR as one line break.
    fn bump(&mut self) {
        match self.peek(0) {
            Some(b'\n') => self.line += 1,
            Some(b'\r') if self.peek(1) != Some(b'\n') => self.line += 1,
            None => return,
            Some(_) => {}
        }
        self.pos += 1;
    }

    fn bump_n(&mut self, count: usize) {
        for _ in 0..count {
            self.bump();
        }
    }

    fn scan_token(&mut self) -> Result<TokenKind, LexErrorKind> {
        let byte = self.bytes[self.pos];
        let dialect = self.dialect;
        match byte {
            _ if byte.is_ascii_whitespace() => Ok(self.scan_whitespace()),
            b'\'' => self.scan_string(dialect == Dialect::MySql),
            b'"' if dialect == Dialect::MySql => self.scan_string(true),
            b'"' => self.scan_quoted(b'"', false, LexErrorKind::UnterminatedQuotedIdentifier),
            b'`' if dialect != Dialect::Postgres => {
                self.scan_quoted(b'`', false, LexErrorKind::UnterminatedQuotedIdentifier)
            }
            b'[' if dialect == Dialect::Sqlite => self.scan_bracketed(),
            b'-' if self.starts_dash_comment() => Ok(self.scan_line_comment()),
            b'#' if dialect == Dialect::MySql => Ok(self.scan_line_comment()),
            b'/' if self.peek(1) == Some(b'*') => self.scan_block_comment(),
            b'$' if dialect == Dialect::Postgres => self.scan_dollar(),
            _ if is_word_byte(byte) => self.scan_word(),
            _ => Ok(self.scan_single(byte)),
        }
    }

    fn scan_single(&mut self, byte: u8) -> TokenKind {
        self.bump();
        match byte {
            b';' => TokenKind::Semicolon,
            b'(' => TokenKind::OpenParen,
            b')' => TokenKind::CloseParen,
            _ => TokenKind::Symbol,
        }
    }

    fn scan_whitespace(&mut self) -> TokenKind {
        while self.peek(0).is_some_and(|byte| byte.is_ascii_whitespace()) {
            self.bump();
        }
        TokenKind::Whitespace
    }

    fn scan_string(&mut self, backslash_escapes: bool) -> Result<TokenKind, LexErrorKind> {
        let quote = self.bytes[self.pos];
        self.scan_quoted(quote, backslash_escapes, LexErrorKind::UnterminatedString)
    }

    /// Scans from an opening `quote` past its closing one. A doubled quote
    /// stands for one quote character, and with `backslash_escapes` a backslash
    /// makes the next byte literal.
    fn scan_quoted(
        &mut self,
        quote: u8,
        backslash_escapes: bool,
        unterminated: LexErrorKind,
    ) -> Result<TokenKind, LexErrorKind> {
        self.bump();
        while let Some(byte) = self.peek(0) {
            self.bump();
            if byte == b'\\' && backslash_escapes {
                self.bump();
            } else if byte == quote {
                if self.peek(0) != Some(quote) {
                    return Ok(TokenKind::Quoted);
                }
                self.bump();
            }
        }
        Err(unterminated)
    }

    /// Scans a SQLite `[identifier]`, which has no escape for `]`.
    fn scan_bracketed(&mut self) -> Result<TokenKind, LexErrorKind> {
        let rest = &self.bytes[self.pos..];
        let close = rest
            .iter()
            .position(|&byte| byte == b']')
            .ok_or(LexErrorKind::UnterminatedQuotedIdentifier)?;
        self.bump_n(close + 1);
        Ok(TokenKind::Quoted)
    }

    /// Returns whether the `-` at the cursor starts a `--` comment. MySQL
    /// requires whitespace, a control character or the end of input after
    /// `--`, so that `1--1` stays an expression there.
    fn starts_dash_comment(&self) -> bool {
        if self.peek(1) != Some(b'-') {
            return false;
        }
        self.dialect != Dialect::MySql || self.peek(2).is_none_or(|byte| byte <= b' ')
    }

    /// Scans to the end of the line, leaving the line break to the next token.
    fn scan_line_comment(&mut self) -> TokenKind {
        while self
            .peek(0)
            .is_some_and(|byte| byte != b'\n' && byte != b'\r')
        {
            self.bump();
        }
        TokenKind::Comment
    }

    fn scan_block_comment(&mut self) -> Result<TokenKind, LexErrorKind> {
        let kind = if self.starts_executable_comment() {
            TokenKind::ExecutableComment
        } else {
            TokenKind::Comment
        };
        let nests = self.dialect == Dialect::Postgres;
        self.bump_n(2);
        let mut depth = 1_usize;
        while let Some(byte) = self.peek(0) {
            if byte == b'*' && self.peek(1) == Some(b'/') {
                self.bump_n(2);
                depth -= 1;
                if depth == 0 {
                    return Ok(kind);
                }
            } else if nests && byte == b'/' && self.peek(1) == Some(b'*') {
                self.bump_n(2);
                depth += 1;
            } else {
                self.bump();
            }
        }
        Err(LexErrorKind::UnterminatedBlockComment)
    }

    fn starts_executable_comment(&self) -> bool {
        self.dialect == Dialect::MySql
            && (self.peek(2) == Some(b'!')
                || (self.peek(2) == Some(b'M') && self.peek(3) == Some(b'!')))
    }

    /// Scans a PostgreSQL `$n` parameter, a dollar-quoted body, or a lone `$`.
    fn scan_dollar(&mut self) -> Result<TokenKind, LexErrorKind> {
        if self.peek(1).is_some_and(|byte| byte.is_ascii_digit()) {
            self.bump();
            while self.peek(0).is_some_and(|byte| byte.is_ascii_digit()) {
                self.bump();
            }
            return Ok(TokenKind::Symbol);
        }
        match dollar_tag_len(&self.bytes[self.pos + 1..]) {
            Some(tag_len) => self.scan_dollar_body(tag_len + 2),
            None => Ok(self.scan_single(b'$')),
        }
    }

    /// Scans from an opening `$tag$` delimiter of `delimiter_len` bytes past
    /// the next copy of the same delimiter. Tags match case-sensitively.
    fn scan_dollar_body(&mut self, delimiter_len: usize) -> Result<TokenKind, LexErrorKind> {
        let body_start = self.pos + delimiter_len;
        let delimiter = &self.bytes[self.pos..body_start];
        let close = self.bytes[body_start..]
            .windows(delimiter_len)
            .position(|window| window == delimiter)
            .ok_or(LexErrorKind::UnterminatedDollarQuote)?;
        self.bump_n(delimiter_len + close + delimiter_len);
        Ok(TokenKind::Quoted)
    }

    /// Scans a word. On PostgreSQL a lone `E` or `e` right before `'` opens an
    /// escape string, in which backslash escapes apply.
    fn scan_word(&mut self) -> Result<TokenKind, LexErrorKind> {
        let start = self.pos;
        while self.peek(0).is_some_and(is_word_byte) {
            self.pos += 1;
        }
        let is_escape_prefix =
            self.pos - start == 1 && self.bytes[start].eq_ignore_ascii_case(&b'e');
        if self.dialect == Dialect::Postgres && is_escape_prefix && self.peek(0) == Some(b'\'') {
            return self.scan_quoted(b'\'', true, LexErrorKind::UnterminatedString);
        }
        Ok(TokenKind::Word)
    }
}

/// Returns whether `byte` may continue an unquoted identifier. Bytes of
/// non-ASCII characters count, as in all three servers, and so does `$`,
/// which PostgreSQL and MySQL allow after the first character.
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || !byte.is_ascii()
}

/// Returns the length of the tag in `rest`, the bytes after a `$`, when a
/// closing `$` follows it. A tag is an identifier without `$` and may be empty.
/// The caller has already ruled out a leading digit, which makes a parameter.
fn dollar_tag_len(rest: &[u8]) -> Option<usize> {
    let tag_len = rest
        .iter()
        .take_while(|&&byte| byte != b'$' && is_word_byte(byte))
        .count();
    (rest.get(tag_len) == Some(&b'$')).then_some(tag_len)
}

// ---------------------------------------------------------------------------
// Statement splitting

/// Groups tokens into statements.
#[derive(Debug)]
struct Splitter<'a> {
    sql: &'a str,
    dialect: Dialect,
    statements: Vec<Statement>,
    current: Option<PendingStatement>,
}

impl Splitter<'_> {
    fn push(&mut self, token: Token) -> Result<(), LexError> {
        if !token.kind.is_significant() {
            return Ok(());
        }
        let text = &self.sql[token.start..token.end];
        if self.current.is_none() {
            if token.kind == TokenKind::Semicolon {
                return Ok(());
            }
            self.check_statement_start(&token, text)?;
        }
        let dialect = self.dialect;
        let current = self
            .current
            .get_or_insert_with(|| PendingStatement::new(&token, dialect));
        if current.push(&token, text) {
            self.close_current();
        }
        Ok(())
    }

    fn check_statement_start(&self, token: &Token, text: &str) -> Result<(), LexError> {
        let is_delimiter = token.kind == TokenKind::Word && text.eq_ignore_ascii_case("delimiter");
        if self.dialect == Dialect::MySql && is_delimiter {
            return Err(LexError {
                line: token.line,
                kind: LexErrorKind::DelimiterCommand,
            });
        }
        Ok(())
    }

    fn close_current(&mut self) {
        if let Some(statement) = self.current.take() {
            self.statements.push(statement.into_statement(self.sql));
        }
    }

    fn finish(mut self) -> Result<Vec<Statement>, LexError> {
        if let Some(current) = &mut self.current {
            current.check_closed()?;
        }
        self.close_current();
        Ok(self.statements)
    }
}

/// A statement whose end has not been seen yet.
#[derive(Debug)]
struct PendingStatement {
    start: usize,
    end: usize,
    line: usize,
    paren_depth: usize,
    /// Line of the outermost `(` that is still open.
    paren_line: usize,
    block: BlockTracker,
}

impl PendingStatement {
    fn new(first: &Token, dialect: Dialect) -> Self {
        Self {
            start: first.start,
            end: first.end,
            line: first.line,
            paren_depth: 0,
            paren_line: 0,
            block: BlockTracker::new(dialect),
        }
    }

    /// Adds a significant token and returns whether it is the semicolon that
    /// ends the statement.
    fn push(&mut self, token: &Token, text: &str) -> bool {
        if self.paren_depth == 0 {
            self.block.observe(token, text);
        }
        match token.kind {
            TokenKind::Semicolon if self.paren_depth == 0 && !self.block.is_open() => return true,
            TokenKind::OpenParen => {
                if self.paren_depth == 0 {
                    self.paren_line = token.line;
                }
                self.paren_depth += 1;
            }
            TokenKind::CloseParen => self.paren_depth = self.paren_depth.saturating_sub(1),
            _ => {}
        }
        self.end = token.end;
        false
    }

    fn check_closed(&mut self) -> Result<(), LexError> {
        self.block.finish();
        let (line, kind) = if self.paren_depth > 0 {
            (self.paren_line, LexErrorKind::UnclosedParenthesis)
        } else if self.block.is_open() {
            (self.block.begin_line, LexErrorKind::UnterminatedBlock)
        } else {
            return Ok(());
        };
        Err(LexError { line, kind })
    }

    fn into_statement(self, sql: &str) -> Statement {
        Statement {
            text: sql[self.start..self.end].trim().to_owned(),
            line: self.line,
        }
    }
}

/// How far the start of a statement matches a routine or trigger definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// No token seen yet.
    Start,
    /// After `CREATE` and modifiers such as `OR REPLACE`, `TEMP` or
    /// `DEFINER = 'user'@'host'`.
    Modifiers,
    /// Right after the `=` or `@` of a `DEFINER` clause.
    AfterOperator,
    /// A routine or trigger definition, whose body may contain `BEGIN ... END`.
    Routine,
    /// Any other statement.
    Plain,
}

/// Words allowed between `CREATE` and the routine kind, besides the value of
/// a `DEFINER = user` clause.
const HEADER_MODIFIERS: &[&str] = &["or", "replace", "temp", "temporary", "definer", "aggregate"];

/// Words after `END` that close a MySQL construct whose opening word this
/// tracker does not count.
const UNCOUNTED_END_SUFFIXES: &[&str] = &["if", "loop", "while", "repeat"];

/// Tracks the `BEGIN ... END` nesting of a routine or trigger body, inside of
/// which semicolons do not end the statement.
///
/// Only top-level tokens (outside parentheses) are observed. Within a routine
/// definition, `BEGIN` opens a block, `CASE` opens one inside a block (it
/// closes with `END` or MySQL `END CASE`), and `END` closes one unless MySQL
/// `IF`, `LOOP`, `WHILE` or `REPEAT` follows it.
///
/// NOTE: this is a keyword heuristic, not a parser. A routine whose header
/// does not fit [`HEADER_MODIFIERS`] and [`routine_kinds`] is split at its
/// first inner semicolon, and the server then rejects the fragments.
#[derive(Debug)]
struct BlockTracker {
    dialect: Dialect,
    header: Header,
    depth: usize,
    /// Line of the outermost open `BEGIN`.
    begin_line: usize,
    /// Set after an `END` whose meaning depends on the next token.
    end_pending: bool,
}

impl BlockTracker {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            header: Header::Start,
            depth: 0,
            begin_line: 0,
            end_pending: false,
        }
    }

    fn is_open(&self) -> bool {
        self.depth > 0
    }

    fn observe(&mut self, token: &Token, text: &str) {
        match self.header {
            Header::Routine => self.observe_body(token, text),
            Header::Plain => {}
            Header::Start | Header::Modifiers | Header::AfterOperator => {
                self.header = self.next_header(token, text);
            }
        }
    }

    fn next_header(&self, token: &Token, text: &str) -> Header {
        let word = (token.kind == TokenKind::Word).then_some(text);
        if self.header == Header::Start {
            let is_create = word.is_some_and(|word| word.eq_ignore_ascii_case("create"));
            return if is_create {
                Header::Modifiers
            } else {
                Header::Plain
            };
        }
        let is_user_or_host = matches!(token.kind, TokenKind::Word | TokenKind::Quoted);
        // Other statements are `Plain` before their first `(`, so in the header
        // a `(` can only belong to `DEFINER = CURRENT_USER()`.
        let is_call_parens = token.kind == TokenKind::OpenParen && self.header == Header::Modifiers;
        if word.is_some_and(|word| is_one_of(word, routine_kinds(self.dialect))) {
            Header::Routine
        } else if word.is_some_and(|word| is_one_of(word, HEADER_MODIFIERS)) || is_call_parens {
            Header::Modifiers
        } else if token.kind == TokenKind::Symbol && (text == "=" || text == "@") {
            Header::AfterOperator
        } else if self.header == Header::AfterOperator && is_user_or_host {
            Header::Modifiers
        } else {
            Header::Plain
        }
    }

    fn observe_body(&mut self, token: &Token, text: &str) {
        let word = (token.kind == TokenKind::Word).then_some(text);
        if std::mem::take(&mut self.end_pending) {
            if word.is_some_and(|word| is_one_of(word, UNCOUNTED_END_SUFFIXES)) {
                return;
            }
            self.depth -= 1;
            if word.is_some_and(|word| word.eq_ignore_ascii_case("case")) {
                return;
            }
        }
        let Some(word) = word else { return };
        if word.eq_ignore_ascii_case("begin") {
            if self.depth == 0 {
                self.begin_line = token.line;
            }
            self.depth += 1;
        } else if self.depth > 0 && word.eq_ignore_ascii_case("case") {
            self.depth += 1;
        } else if self.depth > 0 && word.eq_ignore_ascii_case("end") {
            self.end_pending = true;
        }
    }

    /// Applies an `END` that the file ends with.
    fn finish(&mut self) {
        if std::mem::take(&mut self.end_pending) {
            self.depth -= 1;
        }
    }
}

/// Object kinds whose definition may contain a `BEGIN ... END` body.
fn routine_kinds(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Postgres => &["function", "procedure"],
        Dialect::MySql => &["procedure", "function", "trigger", "event"],
        Dialect::Sqlite => &["trigger"],
    }
}

fn is_one_of(word: &str, lowercase_words: &[&str]) -> bool {
    lowercase_words
        .iter()
        .any(|candidate| word.eq_ignore_ascii_case(candidate))
}

// ---------------------------------------------------------------------------
// Statements that cannot run in a transaction

/// Top-level token of a statement, as [`needs_no_transaction`] matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    /// Unquoted word, lowercased.
    Word(String),
    /// A parenthesized group, reduced to one item.
    Group,
    /// Any other token: punctuation, an operator, a literal or a quoted
    /// identifier, with its text.
    Other(String),
}

/// Lexes the first statement of `statement` into top-level lexemes, dropping
/// whitespace and comments. Lexing stops at the first error.
fn top_level_lexemes(statement: &str, dialect: Dialect) -> Vec<Lexeme> {
    let mut lexemes = Vec::new();
    let mut depth = 0_usize;
    for token in Lexer::new(statement, dialect).map_while(Result::ok) {
        let text = &statement[token.start..token.end];
        match token.kind {
            TokenKind::Whitespace | TokenKind::Comment => {}
            TokenKind::Semicolon if depth == 0 => break,
            TokenKind::OpenParen => {
                if depth == 0 {
                    lexemes.push(Lexeme::Group);
                }
                depth += 1;
            }
            TokenKind::CloseParen => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            TokenKind::Word => lexemes.push(Lexeme::Word(text.to_ascii_lowercase())),
            _ => lexemes.push(Lexeme::Other(text.to_owned())),
        }
    }
    lexemes
}

fn word_at(lexemes: &[Lexeme], index: usize) -> Option<&str> {
    match lexemes.get(index) {
        Some(Lexeme::Word(word)) => Some(word),
        _ => None,
    }
}

/// Returns the index just past the first run of `words` in `lexemes`.
fn find_words(lexemes: &[Lexeme], words: &[&str]) -> Option<usize> {
    let matches_at = |start: usize| {
        (0..words.len()).all(|offset| word_at(lexemes, start + offset) == Some(words[offset]))
    };
    (0..lexemes.len())
        .find(|&start| matches_at(start))
        .map(|start| start + words.len())
}

fn postgres_non_transactional(lexemes: &[Lexeme]) -> Option<&'static str> {
    match word_at(lexemes, 0)? {
        "create" => postgres_create(lexemes),
        "drop" => postgres_drop(lexemes),
        "reindex" => postgres_reindex(lexemes),
        "alter" => postgres_alter(lexemes),
        "vacuum" => Some("VACUUM"),
        _ => None,
    }
}

fn postgres_create(lexemes: &[Lexeme]) -> Option<&'static str> {
    let kind_at = if word_at(lexemes, 1) == Some("unique") {
        2
    } else {
        1
    };
    match (word_at(lexemes, kind_at)?, word_at(lexemes, kind_at + 1)) {
        ("index", Some("concurrently")) => Some("CREATE INDEX CONCURRENTLY"),
        ("database", _) => Some("CREATE DATABASE"),
        ("tablespace", _) => Some("CREATE TABLESPACE"),
        _ => None,
    }
}

fn postgres_drop(lexemes: &[Lexeme]) -> Option<&'static str> {
    match (word_at(lexemes, 1)?, word_at(lexemes, 2)) {
        ("index", Some("concurrently")) => Some("DROP INDEX CONCURRENTLY"),
        ("database", _) => Some("DROP DATABASE"),
        ("tablespace", _) => Some("DROP TABLESPACE"),
        _ => None,
    }
}

/// Matches `REINDEX [ ( options ) ] kind [ CONCURRENTLY ] name`.
fn postgres_reindex(lexemes: &[Lexeme]) -> Option<&'static str> {
    let kind_at = if lexemes.get(1) == Some(&Lexeme::Group) {
        2
    } else {
        1
    };
    match (word_at(lexemes, kind_at)?, word_at(lexemes, kind_at + 1)) {
        ("schema", _) => Some("REINDEX SCHEMA"),
        ("database", _) => Some("REINDEX DATABASE"),
        ("system", _) => Some("REINDEX SYSTEM"),
        (_, Some("concurrently")) => Some("REINDEX CONCURRENTLY"),
        _ => None,
    }
}

fn postgres_alter(lexemes: &[Lexeme]) -> Option<&'static str> {
    match word_at(lexemes, 1)? {
        "system" => Some("ALTER SYSTEM"),
        "table" => {
            let after_detach = find_words(lexemes, &["detach", "partition"])?;
            find_words(&lexemes[after_detach..], &["concurrently"])
                .map(|_| "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY")
        }
        "database" => {
            find_words(lexemes, &["set", "tablespace"]).map(|_| "ALTER DATABASE ... SET TABLESPACE")
        }
        _ => None,
    }
}

fn sqlite_non_transactional(lexemes: &[Lexeme]) -> Option<&'static str> {
    match word_at(lexemes, 0)? {
        "vacuum" => Some("VACUUM"),
        "pragma" => sqlite_pragma(lexemes),
        _ => None,
    }
}

/// Matches `PRAGMA [schema.]name` followed by `= value` or `(value)`.
fn sqlite_pragma(lexemes: &[Lexeme]) -> Option<&'static str> {
    let is_qualified = matches!(lexemes.get(2), Some(Lexeme::Other(text)) if text == ".");
    let name_at = if is_qualified { 3 } else { 1 };
    let sets_value = lexemes.len() > name_at + 1;
    match word_at(lexemes, name_at)? {
        "foreign_keys" if sets_value => Some("PRAGMA foreign_keys"),
        "journal_mode" if sets_value => Some("PRAGMA journal_mode"),
        "synchronous" if sets_value => Some("PRAGMA synchronous"),
        _ => None,
    }
}

#[cfg(test)]
mod transaction_control_tests {
    use super::{Dialect, transaction_control};

    #[test]
    fn finds_transaction_statements() {
        for (statement, expected) in [
            ("COMMIT", "COMMIT"),
            ("begin", "BEGIN"),
            ("START TRANSACTION", "START TRANSACTION"),
            ("rollback to savepoint a", "ROLLBACK"),
            ("END", "END"),
        ] {
            assert_eq!(
                transaction_control(statement, Dialect::Postgres),
                Some(expected),
                "{statement}"
            );
        }
    }

    #[test]
    fn ignores_other_statements() {
        assert_eq!(
            transaction_control("BEGIN NOT ATOMIC SELECT 1; END", Dialect::MySql),
            None
        );
        assert_eq!(
            transaction_control("CREATE TABLE commit_log (id INT)", Dialect::Postgres),
            None
        );
        assert_eq!(
            transaction_control("SELECT 'COMMIT'", Dialect::Sqlite),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_DIALECTS: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    fn texts(sql: &str, dialect: Dialect) -> Vec<String> {
        split_statements(sql, dialect)
            .unwrap_or_else(|error| panic!("{dialect:?}: {error}"))
            .into_iter()
            .map(|statement| statement.text)
            .collect()
    }

    fn lines(sql: &str, dialect: Dialect) -> Vec<usize> {
        let statements = split_statements(sql, dialect).unwrap();
        statements.iter().map(|statement| statement.line).collect()
    }

    fn error(sql: &str, dialect: Dialect) -> LexError {
        split_statements(sql, dialect).unwrap_err()
    }

    fn error_at(line: usize, kind: LexErrorKind) -> LexError {
        LexError { line, kind }
    }

    // --- basic splitting -------------------------------------------------

    #[test]
    fn splits_on_semicolons_and_records_start_lines() {
        let sql =
            "CREATE TABLE a (id INT);\n\nINSERT INTO a VALUES (1);  INSERT INTO a VALUES (2);\n";
        for dialect in ALL_DIALECTS {
            assert_eq!(
                texts(sql, dialect),
                [
                    "CREATE TABLE a (id INT)",
                    "INSERT INTO a VALUES (1)",
                    "INSERT INTO a VALUES (2)"
                ]
            );
            assert_eq!(lines(sql, dialect), [1, 3, 3]);
        }
    }

    #[test]
    fn final_statement_needs_no_semicolon() {
        for dialect in ALL_DIALECTS {
            assert_eq!(
                texts("SELECT 1;\nSELECT 2\n", dialect),
                ["SELECT 1", "SELECT 2"]
            );
            assert_eq!(texts("SELECT 1", dialect), ["SELECT 1"]);
        }
    }

    #[test]
    fn drops_empty_and_comment_only_statements() {
        let sql = ";;\n-- only a comment;\n/* block; */ ;\n  \n";
        for dialect in ALL_DIALECTS {
            assert!(texts(sql, dialect).is_empty(), "{dialect:?}");
            assert!(texts("", dialect).is_empty());
        }
    }

    #[test]
    fn text_excludes_outer_comments() {
        let sql = "-- create it\n/* why */ CREATE TABLE t ( -- the key\n id INT\n) -- done\n;";
        for dialect in ALL_DIALECTS {
            let statements = split_statements(sql, dialect).unwrap();
            assert_eq!(
                statements,
                [Statement {
                    text: "CREATE TABLE t ( -- the key\n id INT\n)".to_owned(),
                    line: 2,
                }]
            );
        }
    }

    #[test]
    fn crlf_and_cr_end_one_line() {
        for dialect in ALL_DIALECTS {
            assert_eq!(
                lines("SELECT 1;\r\n\r\nSELECT 2;\rSELECT 3;", dialect),
                [1, 3, 4]
            );
        }
    }

    #[test]
    fn skips_a_leading_byte_order_mark() {
        for dialect in ALL_DIALECTS {
            let statements = split_statements("\u{feff}SELECT 1;\nSELECT 2;", dialect).unwrap();
            assert_eq!(statements[0].text, "SELECT 1");
            assert_eq!(statements[1].line, 2);
        }
    }

    #[test]
    fn two_create_index_concurrently_statements() {
        let sql = "CREATE INDEX CONCURRENTLY a_x ON a (x);\n\
                   create unique index concurrently b_y on b (y);\n";
        let statements = split_statements(sql, Dialect::Postgres).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[1].line, 2);
        for statement in &statements {
            assert_eq!(
                needs_no_transaction(&statement.text, Dialect::Postgres),
                Some("CREATE INDEX CONCURRENTLY")
            );
        }
    }

    // --- strings and identifiers -----------------------------------------

    #[test]
    fn semicolons_and_doubled_quotes_inside_strings() {
        let sql = "INSERT INTO t VALUES ('a;b', 'it''s; fine', '');\nSELECT ';''';";
        for dialect in ALL_DIALECTS {
            assert_eq!(
                texts(sql, dialect),
                [
                    "INSERT INTO t VALUES ('a;b', 'it''s; fine', '')",
                    "SELECT ';'''"
                ]
            );
        }
    }

    #[test]
    fn mysql_backslash_escapes_in_strings() {
        let sql = r"SELECT 'it\'s; here', 'back\\'; SELECT 2;";
        assert_eq!(
            texts(sql, Dialect::MySql),
            [r"SELECT 'it\'s; here', 'back\\'", "SELECT 2"]
        );
        let double_quoted = r#"INSERT INTO t VALUES ("say \"hi\"; bye");"#;
        assert_eq!(texts(double_quoted, Dialect::MySql).len(), 1);
    }

    #[test]
    fn backslash_is_literal_in_standard_strings() {
        let sql = r"SELECT 'a\'; SELECT 2;";
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            assert_eq!(texts(sql, dialect), [r"SELECT 'a\'", "SELECT 2"]);
        }
        // MySQL reads `\'` as an escaped quote, so this string never closes.
        assert_eq!(
            error(sql, Dialect::MySql),
            error_at(1, LexErrorKind::UnterminatedString)
        );
    }

    #[test]
    fn postgres_escape_strings_honor_backslashes() {
        let sql = r"SELECT E'it\'s; here', e'\\'; SELECT 2;";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            [r"SELECT E'it\'s; here', e'\\'", "SELECT 2"]
        );
        // Only a lone E is a prefix, so `some'a\'` is a word and a plain string.
        let typed = r"SELECT some'a\'; SELECT 2;";
        assert_eq!(texts(typed, Dialect::Postgres).len(), 2);
    }

    #[test]
    fn double_quoted_identifiers() {
        let sql = r#"CREATE TABLE "a;b" ("c""d;" INT, "e\" TEXT); SELECT 2;"#;
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            assert_eq!(
                texts(sql, dialect),
                [r#"CREATE TABLE "a;b" ("c""d;" INT, "e\" TEXT)"#, "SELECT 2"]
            );
        }
    }

    #[test]
    fn backtick_identifiers_on_mysql_and_sqlite() {
        let sql = "CREATE TABLE `a;b` (`c``;` INT); SELECT 2;";
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            assert_eq!(
                texts(sql, dialect),
                ["CREATE TABLE `a;b` (`c``;` INT)", "SELECT 2"]
            );
        }
        // PostgreSQL has no backtick quoting.
        assert_eq!(
            texts("SELECT `a;b`", Dialect::Postgres),
            ["SELECT `a", "b`"]
        );
    }

    #[test]
    fn sqlite_bracket_identifiers() {
        assert_eq!(
            texts("SELECT [a;b] FROM t; SELECT 2;", Dialect::Sqlite),
            ["SELECT [a;b] FROM t", "SELECT 2"]
        );
    }

    #[test]
    fn non_ascii_text() {
        let sql = "INSERT INTO t VALUES ('héllo; wörld ✓'); SELECT naïve FROM t;";
        for dialect in ALL_DIALECTS {
            assert_eq!(
                texts(sql, dialect),
                [
                    "INSERT INTO t VALUES ('héllo; wörld ✓')",
                    "SELECT naïve FROM t"
                ]
            );
        }
    }

    // --- dollar quoting --------------------------------------------------

    #[test]
    fn dollar_quoted_function_body() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $$\n\
                   BEGIN\n  PERFORM 1; -- it's\n  RETURN 2;\nEND;\n$$ LANGUAGE plpgsql;\n\
                   SELECT f();";
        let statements = split_statements(sql, Dialect::Postgres).unwrap();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].text.ends_with("$$ LANGUAGE plpgsql"));
        assert_eq!(statements[1].text, "SELECT f()");
        assert_eq!(statements[1].line, 7);
    }

    #[test]
    fn nested_dollar_quotes_with_different_tags() {
        let sql =
            "DO $outer$\nBEGIN\n  EXECUTE $inner$ SELECT 1; $$ $inner$;\nEND\n$outer$;\nSELECT 2;";
        let statements = split_statements(sql, Dialect::Postgres).unwrap();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].text.starts_with("DO $outer$"));
        assert!(statements[0].text.ends_with("END\n$outer$"));
        assert_eq!(statements[1].line, 6);
    }

    #[test]
    fn dollar_quote_tags_are_case_sensitive() {
        let sql = "SELECT $a$ x; $A$ y; $a$; SELECT 2;";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            ["SELECT $a$ x; $A$ y; $a$", "SELECT 2"]
        );
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        let sql = "PREPARE q AS SELECT $1 + $2; EXECUTE q(1, 2);\nSELECT $12;";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            [
                "PREPARE q AS SELECT $1 + $2",
                "EXECUTE q(1, 2)",
                "SELECT $12"
            ]
        );
    }

    #[test]
    fn dollar_inside_identifiers_is_not_a_dollar_quote() {
        let sql = "SELECT a$b$ FROM t; SELECT $ 1; SELECT 2;";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            ["SELECT a$b$ FROM t", "SELECT $ 1", "SELECT 2"]
        );
    }

    #[test]
    fn dollar_quotes_are_postgres_only() {
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            assert_eq!(texts("SELECT $$a;b$$", dialect), ["SELECT $$a", "b$$"]);
        }
    }

    // --- comments --------------------------------------------------------

    #[test]
    fn comments_containing_semicolons_and_quotes() {
        let sql = "SELECT 1 -- not here; it's a comment\n+ 1 /* nor; \"here\" */;\nSELECT 2;";
        for dialect in ALL_DIALECTS {
            assert_eq!(
                texts(sql, dialect),
                ["SELECT 1 -- not here; it's a comment\n+ 1", "SELECT 2"]
            );
        }
    }

    #[test]
    fn nested_block_comments_on_postgres_only() {
        let sql = "/* outer /* inner; */ still comment; */ SELECT 1;";
        assert_eq!(texts(sql, Dialect::Postgres), ["SELECT 1"]);
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            assert_eq!(texts(sql, dialect), ["still comment", "*/ SELECT 1"]);
        }
    }

    #[test]
    fn mysql_hash_comments() {
        let sql = "SELECT 1; # a comment; with 'quote\nSELECT 2;";
        assert_eq!(texts(sql, Dialect::MySql), ["SELECT 1", "SELECT 2"]);
        // `#` is an operator elsewhere, so the quote opens a string.
        assert_eq!(
            error(sql, Dialect::Postgres),
            error_at(1, LexErrorKind::UnterminatedString)
        );
    }

    #[test]
    fn mysql_dash_comment_needs_whitespace() {
        let sql = "SELECT 1--1;\nSELECT 2;--\tnote;\nSELECT 3; --";
        assert_eq!(
            texts(sql, Dialect::MySql),
            ["SELECT 1--1", "SELECT 2", "SELECT 3"]
        );
        assert_eq!(
            texts(sql, Dialect::Postgres),
            ["SELECT 1--1;\nSELECT 2", "SELECT 3"]
        );
    }

    #[test]
    fn mysql_executable_comments_are_statements() {
        let sql = "/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET x = 1 */;\n/* plain */;";
        assert_eq!(
            texts(sql, Dialect::MySql),
            ["/*!40101 SET NAMES utf8mb4 */", "/*M!100100 SET x = 1 */"]
        );
        assert!(texts(sql, Dialect::Sqlite).is_empty());
    }

    // --- unterminated constructs -----------------------------------------

    #[test]
    fn unterminated_string_reports_its_start_line() {
        let sql = "SELECT 1;\nSELECT 2;\nSELECT 'oops;\nSELECT 3;\n";
        for dialect in ALL_DIALECTS {
            let error = error(sql, dialect);
            assert_eq!(error, error_at(3, LexErrorKind::UnterminatedString));
            assert_eq!(
                error.to_string(),
                "unterminated string literal starting at line 3"
            );
        }
    }

    #[test]
    fn unterminated_dollar_quote_reports_its_start_line() {
        let sql = "SELECT 1;\nCREATE FUNCTION f() AS $body$\nSELECT 1;\n$bodyx$;\n";
        let error = error(sql, Dialect::Postgres);
        assert_eq!(error, error_at(2, LexErrorKind::UnterminatedDollarQuote));
        assert_eq!(
            error.to_string(),
            "unterminated dollar-quoted string starting at line 2"
        );
    }

    #[test]
    fn unterminated_block_comment_reports_its_start_line() {
        let sql = "SELECT 1;\r\n\r\n/* a /* b */ c\r\nSELECT 2;";
        // The inner `*/` closes the nested comment only on PostgreSQL.
        assert_eq!(
            error(sql, Dialect::Postgres),
            error_at(3, LexErrorKind::UnterminatedBlockComment)
        );
        assert_eq!(texts(sql, Dialect::Sqlite), ["SELECT 1", "c\r\nSELECT 2"]);
        let open = error("SELECT 1; /* never closed", Dialect::Sqlite);
        assert_eq!(
            open.to_string(),
            "unterminated block comment starting at line 1"
        );
    }

    #[test]
    fn unterminated_quoted_identifiers() {
        let kind = LexErrorKind::UnterminatedQuotedIdentifier;
        assert_eq!(error("SELECT\n\"a;", Dialect::Postgres), error_at(2, kind));
        assert_eq!(error("SELECT `a;", Dialect::MySql), error_at(1, kind));
        assert_eq!(error("SELECT [a;", Dialect::Sqlite), error_at(1, kind));
        assert_eq!(
            error("SELECT \"a;", Dialect::MySql),
            error_at(1, LexErrorKind::UnterminatedString)
        );
    }

    #[test]
    fn unclosed_parenthesis_reports_the_outermost_open_one() {
        let sql = "SELECT 1;\nCREATE TABLE t (\n  a INT,\n  b VARCHAR(10;\nSELECT 2;";
        for dialect in ALL_DIALECTS {
            let error = error(sql, dialect);
            assert_eq!(error, error_at(2, LexErrorKind::UnclosedParenthesis));
            assert_eq!(error.to_string(), "unclosed parenthesis opened at line 2");
        }
    }

    // --- parentheses and BEGIN ... END bodies ----------------------------

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        let sql = "CREATE RULE r AS ON INSERT TO t DO INSTEAD (\n  INSERT INTO a VALUES (1);\n  INSERT INTO b VALUES (2)\n);\nSELECT 1;";
        let statements = split_statements(sql, Dialect::Postgres).unwrap();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].text.ends_with("VALUES (2)\n)"));
        assert_eq!(statements[1].line, 5);
    }

    #[test]
    fn sqlite_trigger_body() {
        let sql = "CREATE TEMP TRIGGER IF NOT EXISTS touch AFTER UPDATE ON t\n\
                   WHEN CASE WHEN new.a THEN 1 END = 1\n\
                   BEGIN\n\
                     UPDATE t SET b = CASE WHEN new.a > 0 THEN 'x;' ELSE 'y' END WHERE id = new.id;\n\
                     SELECT RAISE(ABORT, 'no;');\n\
                   END;\n\
                   SELECT 2;";
        let statements = split_statements(sql, Dialect::Sqlite).unwrap();
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].text.ends_with("'no;');\nEND"));
        assert_eq!(statements[1].line, 7);
    }

    #[test]
    fn mysql_procedure_with_compound_statements() {
        let sql = "CREATE DEFINER = 'admin'@'%' PROCEDURE fill(n INT)\n\
                   main: BEGIN\n\
                     DECLARE i INT DEFAULT 0;\n\
                     DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN SET i = -1; END;\n\
                     WHILE i < n DO\n\
                       IF i % 2 = 0 THEN INSERT INTO t VALUES (i); END IF;\n\
                       CASE i WHEN 3 THEN SET i = i + 1; ELSE BEGIN END; END CASE;\n\
                       SET i = CASE WHEN i > 9 THEN n ELSE i + 1 END;\n\
                     END WHILE;\n\
                     lbl: LOOP LEAVE lbl; END LOOP lbl;\n\
                     REPEAT SET i = i - 1; UNTIL i < 0 END REPEAT;\n\
                   END main;\n\
                   CALL fill(3);";
        let statements = split_statements(sql, Dialect::MySql).unwrap();
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].text.ends_with("END main"));
        assert_eq!(statements[1].text, "CALL fill(3)");
        assert_eq!(statements[1].line, 13);
    }

    #[test]
    fn mysql_trigger_and_single_statement_routines() {
        let sql = "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW\n\
                   BEGIN IF NEW.a IS NULL THEN SET NEW.a = 0; END IF; END;\n\
                   CREATE PROCEDURE p() SELECT 1;\n\
                   SELECT 2;";
        let statements = split_statements(sql, Dialect::MySql).unwrap();
        assert_eq!(lines(sql, Dialect::MySql), [1, 3, 4], "{statements:?}");
    }

    #[test]
    fn mysql_definer_forms() {
        let definers = [
            "DEFINER = CURRENT_USER()",
            "DEFINER=CURRENT_USER",
            "DEFINER = `admin`@`localhost`",
            "DEFINER = admin@localhost",
            "OR REPLACE DEFINER = 'admin'@'%'",
        ];
        for definer in definers {
            let sql = format!(
                "CREATE {definer} TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\n\
                 BEGIN SET NEW.a = 1; SET NEW.b = 2; END;\nSELECT 2;"
            );
            assert_eq!(lines(&sql, Dialect::MySql), [1, 3], "{definer}");
        }
    }

    #[test]
    fn postgres_begin_atomic_body() {
        let sql = "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql\n\
                   BEGIN ATOMIC\n\
                     SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n\
                     SELECT a;\n\
                   END;\n\
                   SELECT f(1);";
        assert_eq!(lines(sql, Dialect::Postgres), [1, 6]);
    }

    #[test]
    fn begin_outside_routines_is_a_plain_word() {
        let sql = "BEGIN;\nCREATE TABLE ranges (begin INT, \"end\" INT);\nCREATE VIEW v AS SELECT begin FROM ranges;\nCOMMIT;";
        for dialect in ALL_DIALECTS {
            assert_eq!(lines(sql, dialect), [1, 2, 3, 4], "{dialect:?}");
        }
        let mysql_view = "CREATE VIEW v AS SELECT event, begin, end FROM log;\nSELECT 2;";
        assert_eq!(lines(mysql_view, Dialect::MySql), [1, 2]);
    }

    #[test]
    fn routine_body_without_end_is_an_error() {
        let sql =
            "SELECT 1;\nCREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n  DELETE FROM u;\nSELECT 2;";
        let error = error(sql, Dialect::Sqlite);
        assert_eq!(error, error_at(3, LexErrorKind::UnterminatedBlock));
        assert_eq!(
            error.to_string(),
            "BEGIN block without a matching END, opened at line 3"
        );
    }

    #[test]
    fn routine_ending_with_end_at_end_of_input() {
        let sql = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END";
        assert_eq!(texts(sql, Dialect::Sqlite), [sql]);
    }

    #[test]
    fn mysql_delimiter_command_is_rejected() {
        let sql =
            "SELECT 1;\nDELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;";
        let error = error(sql, Dialect::MySql);
        assert_eq!(error, error_at(2, LexErrorKind::DelimiterCommand));
        assert!(
            error
                .to_string()
                .starts_with("DELIMITER at line 2 is a mysql client command")
        );
    }

    // --- needs_no_transaction --------------------------------------------

    #[test]
    fn postgres_statements_that_need_no_transaction() {
        let cases = [
            (
                "CREATE INDEX CONCURRENTLY i ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "create unique index concurrently if not exists i on t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "CREATE INDEX /* note */ CONCURRENTLY ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS i",
                "DROP INDEX CONCURRENTLY",
            ),
            ("REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"),
            (
                "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
                "REINDEX CONCURRENTLY",
            ),
            ("REINDEX SCHEMA public", "REINDEX SCHEMA"),
            ("REINDEX DATABASE app", "REINDEX DATABASE"),
            ("REINDEX SYSTEM app", "REINDEX SYSTEM"),
            ("VACUUM", "VACUUM"),
            ("vacuum (full, analyze) t", "VACUUM"),
            ("CREATE DATABASE app", "CREATE DATABASE"),
            ("DROP DATABASE IF EXISTS app", "DROP DATABASE"),
            ("ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"),
            (
                "CREATE TABLESPACE fast LOCATION '/ssd'",
                "CREATE TABLESPACE",
            ),
            ("DROP TABLESPACE fast", "DROP TABLESPACE"),
            (
                "ALTER DATABASE app SET TABLESPACE fast",
                "ALTER DATABASE ... SET TABLESPACE",
            ),
            (
                "ALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY",
                "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY",
            ),
            (
                "\n  -- lead\n  Create\n\tIndex\n  Concurrently i ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
        ];
        for (statement, expected) in cases {
            assert_eq!(
                needs_no_transaction(statement, Dialect::Postgres),
                Some(expected),
                "{statement}"
            );
        }
    }

    #[test]
    fn postgres_statements_that_run_in_a_transaction() {
        let cases = [
            "CREATE INDEX i ON t (a)",
            "CREATE INDEX concurrently_idx ON t (a)",
            "CREATE INDEX \"concurrently\" ON t (a)",
            "CREATE INDEX i ON t (a) WHERE note = 'CREATE INDEX CONCURRENTLY'",
            "SELECT 'CREATE INDEX CONCURRENTLY x ON t (a)'",
            "-- CREATE INDEX CONCURRENTLY x ON t (a)\nSELECT 1",
            "/* VACUUM */ ANALYZE t",
            "SELECT $$VACUUM$$",
            "COMMENT ON TABLE t IS 'VACUUM'",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' BEFORE 'sad'",
            "DROP INDEX i",
            "REINDEX TABLE t",
            "ALTER TABLE m DETACH PARTITION m_2020",
            "ALTER DATABASE app SET search_path = app",
            "ALTER TABLE t ADD COLUMN concurrently INT",
            "CREATE TABLE vacuum_log (id INT)",
            "",
        ];
        for statement in cases {
            assert_eq!(
                needs_no_transaction(statement, Dialect::Postgres),
                None,
                "{statement}"
            );
        }
    }

    #[test]
    fn sqlite_statements_that_need_no_transaction() {
        let flagged = [
            ("VACUUM", "VACUUM"),
            ("vacuum INTO '/tmp/copy.db'", "VACUUM"),
            ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys"),
            ("pragma FOREIGN_KEYS(1)", "PRAGMA foreign_keys"),
            ("PRAGMA main.journal_mode = WAL", "PRAGMA journal_mode"),
            ("PRAGMA synchronous = NORMAL", "PRAGMA synchronous"),
        ];
        for (statement, expected) in flagged {
            assert_eq!(
                needs_no_transaction(statement, Dialect::Sqlite),
                Some(expected),
                "{statement}"
            );
        }
        let allowed = [
            "PRAGMA foreign_keys",
            "PRAGMA journal_mode",
            "PRAGMA synchronous",
            "PRAGMA foreign_key_check",
            "SELECT 'VACUUM'",
            "-- VACUUM\nDELETE FROM t",
            "CREATE INDEX CONCURRENTLY_named ON t (a)",
        ];
        for statement in allowed {
            assert_eq!(
                needs_no_transaction(statement, Dialect::Sqlite),
                None,
                "{statement}"
            );
        }
    }

    #[test]
    fn mysql_flags_nothing() {
        for statement in [
            "VACUUM",
            "CREATE DATABASE app",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
        ] {
            assert_eq!(needs_no_transaction(statement, Dialect::MySql), None);
        }
    }

    #[test]
    fn postgres_rules_do_not_apply_to_other_dialects() {
        assert_eq!(
            needs_no_transaction("CREATE DATABASE app", Dialect::Sqlite),
            None
        );
        assert_eq!(
            needs_no_transaction("PRAGMA foreign_keys = OFF", Dialect::Postgres),
            None
        );
    }

    // --- first_line_directive --------------------------------------------

    #[test]
    fn directive_on_first_non_empty_line() {
        let cases = [
            (
                "-- covet:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
                Some("no-transaction"),
            ),
            (
                "\u{feff}-- covet:no-transaction\r\nSELECT 1;",
                Some("no-transaction"),
            ),
            (
                "\n  \r\n\t-- covet:no-transaction  \nSELECT 1;",
                Some("no-transaction"),
            ),
            ("--covet: no-transaction", Some("no-transaction")),
            ("-- covet:no-transaction\rSELECT 1;", Some("no-transaction")),
            ("-- covet:bogus words", Some("bogus words")),
        ];
        for (sql, expected) in cases {
            assert_eq!(first_line_directive(sql), expected, "{sql:?}");
        }
    }

    #[test]
    fn no_directive() {
        let cases = [
            "",
            "SELECT 1;\n-- covet:no-transaction",
            "-- a comment\n-- covet:no-transaction",
            "-- covet:",
            "-- covet no-transaction",
            "-- Covet:no-transaction",
            "/* covet:no-transaction */",
            "SELECT 1; -- covet:no-transaction",
        ];
        for sql in cases {
            assert_eq!(first_line_directive(sql), None, "{sql:?}");
        }
    }
}
