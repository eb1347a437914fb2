//! One migration: a version, a name, and its SQL or Rust code.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use covet::Transaction;

use crate::checksum::checksum;
use crate::error::{MigrateError, Result};
use crate::lexer::first_line_directive;

/// The first-line directive that runs a SQL file outside a transaction.
pub const NO_TRANSACTION: &str = "no-transaction";

/// A migration written in Rust, for data changes that SQL alone expresses badly.
///
/// `up` and `down` run inside a transaction together with the history update, on every
/// backend, so they see a consistent database and leave either both or neither.
#[async_trait]
pub trait RustMigration: Send + Sync + 'static {
    /// Returns the version, which orders migrations.
    fn version(&self) -> i64;

    /// Returns the name.
    fn name(&self) -> &str;

    /// Returns the text whose checksum is recorded for drift detection. Change it when the
    /// migration's behaviour changes. The default is the version and name.
    fn checksum_source(&self) -> String {
        format!("rust migration {} {}", self.version(), self.name())
    }

    /// Applies the migration.
    async fn up(&self, tx: &Transaction) -> covet::Result<()>;

    /// Returns whether [`down`](Self::down) reverts the migration.
    fn has_down(&self) -> bool {
        false
    }

    /// Reverts the migration. Only called when [`has_down`](Self::has_down) is true.
    async fn down(&self, tx: &Transaction) -> covet::Result<()> {
        let _ = tx;
        Ok(())
    }
}

/// The code of a migration.
#[derive(Clone)]
pub(crate) enum Body {
    Sql {
        up: String,
        down: Option<String>,
        no_transaction: bool,
    },
    Rust(Arc<dyn RustMigration>),
}

/// A versioned migration.
#[derive(Clone)]
pub struct Migration {
    pub(crate) version: i64,
    pub(crate) name: String,
    pub(crate) body: Body,
    pub(crate) checksum: String,
}

impl fmt::Debug for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("version", &self.version)
            .field("name", &self.name)
            .field("kind", &if self.is_rust() { "rust" } else { "sql" })
            .field("checksum", &self.checksum)
            .finish()
    }
}

impl Migration {
    /// Creates a SQL migration. A first line `-- covet:no-transaction` runs it statement by
    /// statement outside a transaction.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidSource`] for an unknown `-- covet:` directive.
    pub fn sql(version: i64, name: &str, up: &str, down: Option<&str>) -> Result<Self> {
        let no_transaction = match first_line_directive(up) {
            None => false,
            Some(NO_TRANSACTION) => true,
            Some(other) => {
                return Err(MigrateError::InvalidSource(format!(
                    "migration {version} ({name}) starts with the unknown directive \
                     `-- covet:{other}`; the only directive is `-- covet:{NO_TRANSACTION}`"
                )));
            }
        };
        Ok(Self {
            version,
            name: name.to_owned(),
            checksum: checksum(up.as_bytes()),
            body: Body::Sql {
                up: up.to_owned(),
                down: down.map(str::to_owned),
                no_transaction,
            },
        })
    }

    /// Creates a Rust migration.
    pub fn rust(migration: impl RustMigration) -> Self {
        let checksum = checksum(migration.checksum_source().as_bytes());
        Self {
            version: migration.version(),
            name: migration.name().to_owned(),
            checksum,
            body: Body::Rust(Arc::new(migration)),
        }
    }

    /// Returns the version.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Returns the name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the checksum recorded when the migration is applied.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Returns whether the migration can be reverted.
    pub fn has_down(&self) -> bool {
        match &self.body {
            Body::Sql { down, .. } => down.is_some(),
            Body::Rust(migration) => migration.has_down(),
        }
    }

    /// Returns whether the migration is written in Rust.
    pub fn is_rust(&self) -> bool {
        matches!(self.body, Body::Rust(_))
    }

    /// Returns whether the file asked to run outside a transaction.
    pub fn is_no_transaction(&self) -> bool {
        matches!(
            self.body,
            Body::Sql {
                no_transaction: true,
                ..
            }
        )
    }
}
