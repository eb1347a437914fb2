//! A backend written outside covet plugs in through the `Backend` trait, with no change to
//! models or query code.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use covet::backend::sqlite::SqliteBackend;
use covet::backend::{
    AutoIncrementColumn, Backend, BackendConnection, Capabilities, QueryStatement, SchemaStatement,
};
use covet::sea_query::Values;
use covet::{Database, Model, SqlType};
use covet_pool::PoolStatus;

/// Wraps the SQLite backend, records every rendered statement, and turns off
/// `INSERT ... RETURNING` so inserts read their row back by key instead.
#[derive(Debug)]
struct Recording {
    inner: SqliteBackend,
    capabilities: Capabilities,
    rendered: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Backend for Recording {
    fn system_name(&self) -> &'static str {
        "recording-sqlite"
    }

    fn namespace(&self) -> Option<&str> {
        self.inner.namespace()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn render(&self, statement: &QueryStatement) -> (String, Values) {
        let (sql, values) = self.inner.render(statement);
        self.rendered.lock().unwrap().push(sql.clone());
        (sql, values)
    }

    fn render_schema(&self, statement: &SchemaStatement) -> String {
        self.inner.render_schema(statement)
    }

    fn column_type(&self, sql_type: SqlType, key: bool) -> &'static str {
        self.inner.column_type(sql_type, key)
    }

    fn auto_increment_column(&self, sql_type: SqlType) -> AutoIncrementColumn {
        self.inner.auto_increment_column(sql_type)
    }

    async fn acquire(&self) -> covet::Result<Box<dyn BackendConnection>> {
        self.inner.acquire().await
    }

    async fn connect_dedicated(&self) -> covet::Result<Box<dyn BackendConnection>> {
        self.inner.connect_dedicated().await
    }

    fn pool_metrics(&self) -> covet_pool::PoolMetrics {
        self.inner.pool_metrics()
    }

    fn pool_status(&self) -> PoolStatus {
        self.inner.pool_status()
    }

    fn close(&self) {
        self.inner.close();
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "widgets")]
struct Widget {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[tokio::test]
async fn custom_backend_runs_models() {
    let inner = SqliteBackend::connect("sqlite::memory:", &covet::ConnectOptions::new())
        .await
        .unwrap();
    let mut capabilities = inner.capabilities().clone();
    capabilities.insert_returning = false;
    let rendered = Arc::new(Mutex::new(Vec::new()));
    let db = Database::from_backend(Recording {
        inner,
        capabilities,
        rendered: Arc::clone(&rendered),
    });
    assert_eq!(db.backend().system_name(), "recording-sqlite");

    Widget::create_table(&db).await.unwrap();
    let first = Widget {
        id: 0,
        name: String::from("gear"),
    }
    .insert(&db)
    .await
    .unwrap();
    let second = Widget {
        id: 0,
        name: String::from("cog"),
    }
    .insert(&db)
    .await
    .unwrap();
    assert!(first.id > 0);
    assert_eq!(
        second.id,
        first.id + 1,
        "the key is read back from last_insert_id"
    );
    let found = Widget::query()
        .filter(Widget::NAME.eq("cog"))
        .one(&db)
        .await
        .unwrap();
    assert_eq!(found, second);

    let statements = rendered.lock().unwrap().clone();
    assert!(
        statements.iter().all(|sql| !sql.contains("RETURNING")),
        "no RETURNING without the capability: {statements:?}"
    );
    assert!(
        statements
            .iter()
            .any(|sql| sql.starts_with("INSERT INTO \"widgets\""))
    );
    assert!(statements.iter().any(|sql| sql.starts_with("SELECT")));
}
