//! No password from a database URL reaches an error message, a `Debug` output or tracing.
//!
//! Each test checks an error's `Display`, every message in its `source()` chain and its
//! `Debug` output, and everything recorded by a tracing subscriber installed for the test.
//! The tests use a current-thread runtime, so the subscriber set with `set_default` receives
//! every span and event of the test's statements.

mod support;

use std::error::Error as _;
use std::fmt;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covet::{ConnectOptions, Database, Error, ErrorKind, redact_url};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use support::Backend;

const PASSWORD: &str = "Sup3rSecretPw";

/// A tracing layer that stores the text of every span field, recorded value and event.
#[derive(Clone, Default)]
struct TextRecorder {
    lines: Arc<Mutex<Vec<String>>>,
}

impl TextRecorder {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("recorder lock").clone()
    }
}

struct TextVisitor<'a> {
    line: &'a mut String,
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.line.push_str(&format!(" {}={value}", field.name()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.line.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for TextRecorder {
    fn on_new_span(&self, attributes: &Attributes<'_>, _id: &Id, _context: Context<'_, S>) {
        let metadata = attributes.metadata();
        let mut line = format!("span {} {}", metadata.target(), metadata.name());
        attributes.record(&mut TextVisitor { line: &mut line });
        self.lines.lock().expect("recorder lock").push(line);
    }

    fn on_record(&self, _id: &Id, values: &Record<'_>, _context: Context<'_, S>) {
        let mut line = String::from("record");
        values.record(&mut TextVisitor { line: &mut line });
        self.lines.lock().expect("recorder lock").push(line);
    }

    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut line = format!("event {}", event.metadata().target());
        event.record(&mut TextVisitor { line: &mut line });
        self.lines.lock().expect("recorder lock").push(line);
    }
}

/// Installs a [`TextRecorder`] as this thread's subscriber until the guard is dropped.
fn record_tracing() -> (TextRecorder, tracing::subscriber::DefaultGuard) {
    let recorder = TextRecorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (recorder, guard)
}

fn assert_hidden(text: &str, context: &str) {
    assert!(
        !text.contains(PASSWORD),
        "the password appears in {context}: {text}"
    );
}

/// Checks that the password is in none of the error's texts: `Display`, each cause in the
/// `source()` chain, and `Debug` in both forms.
fn assert_error_hides_password(error: &Error) {
    assert_hidden(&error.to_string(), "the error message");
    let mut cause = error.source();
    while let Some(inner) = cause {
        assert_hidden(&inner.to_string(), "a cause's message");
        assert_hidden(&format!("{inner:?}"), "a cause's Debug output");
        cause = inner.source();
    }
    assert_hidden(&format!("{error:?}"), "the error's Debug output");
    assert_hidden(&format!("{error:#?}"), "the error's pretty Debug output");
}

fn assert_tracing_hides_password(recorder: &TextRecorder) {
    for line in recorder.lines() {
        assert_hidden(&line, "tracing output");
    }
}

/// Returns a loopback port with no listener: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("bound address").port()
}

fn quick_options() -> ConnectOptions {
    ConnectOptions::new().connect_timeout(Duration::from_secs(5))
}

/// Returns the server URL of `backend` with its password set to [`PASSWORD`].
fn server_url_with_password(backend: Backend) -> String {
    let mut url = url::Url::parse(&support::server_url(backend)).expect("valid server URL");
    url.set_password(Some(PASSWORD))
        .expect("the URL takes a password");
    url.to_string()
}

fn server_unreachable(error: &Error) -> bool {
    let mut text = format!("{error:?}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text.to_lowercase().contains("refused")
}

#[tokio::test]
async fn postgres_closed_port_error() {
    let (recorder, guard) = record_tracing();
    let url = format!(
        "postgres://root:{PASSWORD}@127.0.0.1:{}/test",
        closed_port()
    );
    let error = Database::connect_with(&url, quick_options())
        .await
        .unwrap_err();
    drop(guard);
    assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
    assert_error_hides_password(&error);
    assert_tracing_hides_password(&recorder);
}

#[tokio::test]
async fn mysql_closed_port_error() {
    let (recorder, guard) = record_tracing();
    let url = format!("mysql://root:{PASSWORD}@127.0.0.1:{}/test", closed_port());
    let error = Database::connect_with(&url, quick_options())
        .await
        .unwrap_err();
    drop(guard);
    assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
    assert_error_hides_password(&error);
    assert_tracing_hides_password(&recorder);
}

#[tokio::test]
async fn malformed_url_errors() {
    let (recorder, guard) = record_tracing();
    for url in [
        format!("postgres://root:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("postgresql://root:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("mysql://root:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("mariadb://root:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("postgres://root:{PASSWORD}@127.0.0.1:99999/test"),
        format!("redis://root:{PASSWORD}@127.0.0.1:6379/0"),
        format!("postgres://root:{PASSWORD}@[::1/test"),
    ] {
        let error = Database::connect_with(&url, quick_options())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{url}: {error:?}");
        assert_error_hides_password(&error);
        let message = error.to_string();
        assert!(
            message.contains("***"),
            "the message shows the URL with its password replaced: {message}"
        );
    }
    drop(guard);
    assert_tracing_hides_password(&recorder);
}

#[tokio::test]
async fn malformed_query_password_error() {
    // sqlx reads a PostgreSQL password from the `password` query parameter too.
    for url in [
        format!("postgres://root@127.0.0.1:notaport/test?password={PASSWORD}"),
        format!("postgres://root@127.0.0.1:5432/test?password={PASSWORD}&sslmode=bogus"),
    ] {
        let error = Database::connect_with(&url, quick_options())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{url}: {error:?}");
        assert_error_hides_password(&error);
    }
}

#[tokio::test]
async fn postgres_database_debug() {
    let url = server_url_with_password(Backend::Postgres);
    let (recorder, guard) = record_tracing();
    let db = match Database::connect_with(&url, quick_options()).await {
        Ok(db) => db,
        Err(error) if server_unreachable(&error) => {
            eprintln!("NOTICE: skipping postgres_database_debug: PostgreSQL is unreachable");
            return;
        }
        Err(error) => panic!("PostgreSQL trusts local connections, so this connects: {error:?}"),
    };
    covet::raw("SELECT 1").execute(&db).await.expect("SELECT 1");
    let error = covet::raw("SELECT * FROM no_such_table")
        .execute(&db)
        .await
        .unwrap_err();
    drop(guard);

    assert_error_hides_password(&error);
    let debug = format!("{db:?}");
    assert_hidden(&debug, "Debug of Database");
    assert!(
        debug.contains("127.0.0.1"),
        "Debug names the server: {debug}"
    );
    assert_hidden(&format!("{db:#?}"), "pretty Debug of Database");
    assert_hidden(&format!("{:?}", db.backend()), "Debug of the backend");
    assert_tracing_hides_password(&recorder);
    db.close();
}

#[tokio::test]
async fn postgres_query_password_debug() {
    // sqlx also reads a password from the `password` query parameter.
    let mut url = url::Url::parse(&support::server_url(Backend::Postgres)).expect("valid URL");
    url.query_pairs_mut().append_pair("password", PASSWORD);
    let db = match Database::connect_with(url.as_str(), quick_options()).await {
        Ok(db) => db,
        Err(error) if server_unreachable(&error) => {
            eprintln!("NOTICE: skipping postgres_query_password_debug: PostgreSQL is unreachable");
            return;
        }
        Err(error) => panic!("PostgreSQL trusts local connections, so this connects: {error:?}"),
    };
    let debug = format!("{db:?}");
    db.close();
    assert_hidden(&debug, "Debug of Database");
}

#[tokio::test]
async fn mysql_wrong_password_error() {
    let url = server_url_with_password(Backend::MySql);
    let (recorder, guard) = record_tracing();
    let error = match Database::connect_with(&url, quick_options()).await {
        Ok(_) => panic!("MariaDB root has an empty password, so {PASSWORD} must be rejected"),
        Err(error) => error,
    };
    drop(guard);
    if server_unreachable(&error) {
        eprintln!("NOTICE: skipping mysql_wrong_password_error: MariaDB is unreachable");
        return;
    }
    assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
    assert_error_hides_password(&error);
    assert_tracing_hides_password(&recorder);
}

#[test]
fn redact_url_hides_password() {
    for url in [
        format!("postgres://root:{PASSWORD}@127.0.0.1:5432/test"),
        format!("mysql://root:{PASSWORD}@127.0.0.1:3306/test"),
        format!("postgres://:{PASSWORD}@127.0.0.1/test"),
        format!("postgres://root:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("postgres://root:{PASSWORD}@db host/test"),
        format!("postgres://root:{PASSWORD}@extra@127.0.0.1/test"),
        format!("redis://root:{PASSWORD}@127.0.0.1:6379/0"),
    ] {
        let redacted = redact_url(&url);
        assert_hidden(&redacted, &format!("redact_url({url})"));
        assert!(redacted.contains("***"), "{url} became {redacted}");
        assert!(
            redacted.contains("127.0.0.1") || redacted.contains("db host"),
            "{redacted}"
        );
    }
}

#[test]
fn redact_url_keeps_user_and_host() {
    let redacted = redact_url(&format!("postgres://root:{PASSWORD}@127.0.0.1:5432/test"));
    assert_eq!(redacted, "postgres://root:***@127.0.0.1:5432/test");
}

#[test]
fn redact_url_without_password() {
    for url in [
        "postgres://root@127.0.0.1:5432/test",
        "mysql://root@127.0.0.1:3306/test",
        "sqlite::memory:",
        "sqlite:///tmp/app.db",
    ] {
        assert_eq!(redact_url(url), url);
    }
}

#[test]
fn redact_url_query_password() {
    let url = format!("postgres://root@127.0.0.1:5432/test?password={PASSWORD}");
    let redacted = redact_url(&url);
    assert_hidden(&redacted, "redact_url of a password query parameter");
}

/// URLs whose password the parser cannot see as one (it reads them as a path) still never
/// show it, neither in covet's message nor in the server's error that quotes the URL.
#[tokio::test]
async fn malformed_url_password_hidden() {
    for url in [
        "postgres:root:Sup3rSecretPw@127.0.0.1/test",
        "postgres:/root:Sup3rSecretPw@127.0.0.1/test",
        "mysql:/root:Sup3rSecretPw@127.0.0.1:3306/test",
        "postgresql//root:Sup3rSecretPw@127.0.0.1/test",
    ] {
        let redacted = covet::redact_url(url);
        assert!(
            !redacted.contains("Sup3rSecretPw"),
            "{url} is shown as {redacted}"
        );
        if let Err(error) = Database::connect(url).await {
            assert_error_hides_password(&error);
        }
    }
}
