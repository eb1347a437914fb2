//! `CREATE TABLE` and `DROP TABLE` from a model's columns.

use sea_query::{Alias, ColumnDef, Index, Table, TableCreateStatement};

use crate::backend::{AutoIncrementColumn, Backend, SchemaStatement, Statement};
use crate::error::Result;
use crate::executor::Executor;
use crate::model::{ColumnInfo, Model};

/// Builds the `CREATE TABLE IF NOT EXISTS` statement for `M` on `backend`.
pub fn create_table_statement<M: Model>(backend: &dyn Backend) -> TableCreateStatement {
    let mut create = Table::create();
    create.table(M::TABLE).if_not_exists();
    let key_columns: Vec<&ColumnInfo> = M::COLUMNS.iter().filter(|c| c.primary_key).collect();
    let auto_increment = match key_columns.as_slice() {
        [key] if key.auto_increment => Some(backend.auto_increment_column(key.sql_type)),
        _ => None,
    };
    let inline_key = auto_increment.is_some_and(|column| column.declares_primary_key);
    for column in M::COLUMNS {
        create.col(column_def(backend, column, auto_increment));
    }
    if !inline_key && !key_columns.is_empty() {
        let mut primary_key = Index::create();
        for column in &key_columns {
            primary_key.col(column.name);
        }
        create.primary_key(&mut primary_key);
    }
    for column in M::COLUMNS.iter().filter(|column| column.unique) {
        create.index(
            Index::create()
                .name(format!("uq_{}_{}", M::TABLE, column.name))
                .col(column.name)
                .unique(),
        );
    }
    create
}

fn column_def(
    backend: &dyn Backend,
    column: &ColumnInfo,
    auto_increment: Option<AutoIncrementColumn>,
) -> ColumnDef {
    let key = column.primary_key || column.unique;
    let generated_key = auto_increment.filter(|_| column.auto_increment);
    let column_type = match (column.column_type, generated_key) {
        (Some(column_type), _) => column_type,
        (None, Some(generated)) => generated.type_sql,
        (None, None) => backend.column_type(column.sql_type, key),
    };
    let mut def = ColumnDef::new(column.name);
    def.custom(Alias::new(column_type));
    // A column declared `INTEGER PRIMARY KEY` is never NULL already.
    let declares_key = generated_key.is_some_and(|generated| generated.declares_primary_key);
    if !column.nullable && !declares_key {
        def.not_null();
    }
    def
}

pub(crate) async fn create_table<M: Model, E: Executor + ?Sized>(db: &E) -> Result<()> {
    let create = create_table_statement::<M>(db.backend());
    let sql = db
        .backend()
        .render_schema(&SchemaStatement::CreateTable(&create));
    let statement =
        Statement::new(sql, sea_query::Values(Vec::new()), "CREATE TABLE").collection(M::TABLE);
    db.execute(statement).await?;
    Ok(())
}

pub(crate) async fn drop_table<M: Model, E: Executor + ?Sized>(db: &E) -> Result<()> {
    let mut drop = Table::drop();
    drop.table(M::TABLE).if_exists();
    let sql = db
        .backend()
        .render_schema(&SchemaStatement::DropTable(&drop));
    let statement =
        Statement::new(sql, sea_query::Values(Vec::new()), "DROP TABLE").collection(M::TABLE);
    db.execute(statement).await?;
    Ok(())
}
