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
                .name(unique_constraint_name(M::TABLE, column.name))
                .col(column.name)
                .unique(),
        );
    }
    create
}

/// Returns `uq_{table}_{column}` with characters other than letters, digits and `_`
/// replaced by `_`, shortened to 63 bytes (PostgreSQL's limit; MySQL's is 64) with a hash
/// of the full name at the end, so that long names stay distinct.
pub fn unique_constraint_name(table: &str, column: &str) -> String {
    let name: String = format!("uq_{table}_{column}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.len() <= 63 {
        return name;
    }
    // FNV-1a: a stable hash, so the name is the same in every build.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}_{hash:016x}", &name[..46])
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

#[cfg(test)]
mod tests {
    use super::unique_constraint_name;

    #[test]
    fn constraint_name_is_sanitized() {
        assert_eq!(unique_constraint_name("t\"q", "e`mail"), "uq_t_q_e_mail");
    }

    #[test]
    fn long_constraint_names_stay_distinct() {
        let table = "a".repeat(60);
        let first = unique_constraint_name(&table, "first_column");
        let second = unique_constraint_name(&table, "second_column");
        assert!(first.len() <= 63, "{first}");
        assert_ne!(first, second);
    }
}
