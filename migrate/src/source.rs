//! Sets of migrations: from a directory, from files embedded at compile time, or from code.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{MigrateError, Result};
use crate::migration::Migration;

/// An ordered set of migrations with unique versions.
#[derive(Clone, Debug, Default)]
pub struct MigrationSet {
    migrations: Vec<Migration>,
}

/// A migration file embedded in the binary by [`embed_migrations!`](crate::embed_migrations).
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedFile {
    /// The file name, such as `20250101120000_create_users.up.sql`.
    pub file_name: &'static str,
    /// The file's text.
    pub contents: &'static str,
}

/// Whether a file applies or reverts its migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Splits `20250101120000_create_users.up.sql` into its version, name and direction.
fn parse_file_name(file_name: &str) -> Option<(i64, &str, Direction)> {
    let (stem, direction) = if let Some(stem) = file_name.strip_suffix(".up.sql") {
        (stem, Direction::Up)
    } else {
        (file_name.strip_suffix(".down.sql")?, Direction::Down)
    };
    let (version, name) = stem.split_once('_')?;
    let version = version.parse().ok()?;
    if name.is_empty() {
        return None;
    }
    Some((version, name, direction))
}

/// Pairs up and down files by version, rejecting duplicates and names that do not fit.
fn collect<'a>(files: impl IntoIterator<Item = (&'a str, String)>) -> Result<Vec<Migration>> {
    type Pair = (String, Option<String>, Option<String>);
    let mut by_version: BTreeMap<i64, Pair> = BTreeMap::new();
    for (file_name, contents) in files {
        let Some((version, name, direction)) = parse_file_name(file_name) else {
            return Err(MigrateError::InvalidSource(format!(
                "`{file_name}` is not a migration file name; use VERSION_NAME.up.sql and \
                 VERSION_NAME.down.sql, for example 20250101120000_create_users.up.sql"
            )));
        };
        let entry = by_version
            .entry(version)
            .or_insert_with(|| (name.to_owned(), None, None));
        if entry.0 != name {
            return Err(MigrateError::InvalidSource(format!(
                "version {version} is used twice, by `{}` and `{name}`; give each migration \
                 its own version",
                entry.0
            )));
        }
        let slot = match direction {
            Direction::Up => &mut entry.1,
            Direction::Down => &mut entry.2,
        };
        if slot.replace(contents).is_some() {
            return Err(MigrateError::InvalidSource(format!(
                "`{file_name}` appears twice; keep one file per version and direction"
            )));
        }
    }
    by_version
        .into_iter()
        .map(|(version, (name, up, down))| match up {
            Some(up) => Migration::sql(version, &name, &up, down.as_deref()),
            None => Err(MigrateError::InvalidSource(format!(
                "migration {version} ({name}) has a down file but no \
                 `{version}_{name}.up.sql`"
            ))),
        })
        .collect()
}

impl MigrationSet {
    /// Creates a set from migrations built in code.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidSource`] when two migrations share a version.
    pub fn new(migrations: impl IntoIterator<Item = Migration>) -> Result<Self> {
        let mut set = Self::default();
        for migration in migrations {
            set.add(migration)?;
        }
        Ok(set)
    }

    /// Adds a migration, keeping the set ordered by version.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidSource`] when the version is already taken.
    pub fn add(&mut self, migration: Migration) -> Result<()> {
        let position = self
            .migrations
            .binary_search_by_key(&migration.version, |existing| existing.version);
        match position {
            Ok(index) => Err(MigrateError::InvalidSource(format!(
                "version {} is used twice, by `{}` and `{}`; give each migration its own \
                 version",
                migration.version, self.migrations[index].name, migration.name
            ))),
            Err(index) => {
                self.migrations.insert(index, migration);
                Ok(())
            }
        }
    }

    /// Loads every `VERSION_NAME.up.sql` and `VERSION_NAME.down.sql` file of a directory.
    /// Files that do not end in `.sql` are ignored.
    ///
    /// # Errors
    ///
    /// [`MigrateError::Io`] when the directory or a file cannot be read, and
    /// [`MigrateError::InvalidSource`] for a file name that does not fit or a duplicate
    /// version.
    pub fn from_dir(directory: impl AsRef<Path>) -> Result<Self> {
        let directory = directory.as_ref();
        let io_error = |source| MigrateError::Io {
            path: directory.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(directory).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            let Some(file_name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            // Hidden files (editor locks such as `.#1_a.up.sql`) and folders are not
            // migrations; any other file ending in .sql, in any case, must be one.
            let hidden = file_name.starts_with('.');
            if hidden || path.is_dir() || !file_name.to_ascii_lowercase().ends_with(".sql") {
                continue;
            }
            let contents = std::fs::read_to_string(&path).map_err(|source| MigrateError::Io {
                path: path.clone(),
                source,
            })?;
            files.push((file_name.to_owned(), contents));
        }
        let migrations = collect(
            files
                .iter()
                .map(|(name, text)| (name.as_str(), text.clone())),
        )?;
        Self::new(migrations)
    }

    /// Builds a set from files embedded with [`embed_migrations!`](crate::embed_migrations).
    ///
    /// # Errors
    ///
    /// As for [`from_dir`](Self::from_dir), except for I/O.
    pub fn from_embedded(files: &[EmbeddedFile]) -> Result<Self> {
        let files = files
            .iter()
            .map(|file| (file.file_name, file.contents.to_owned()));
        Self::new(collect(files)?)
    }

    /// Returns the migrations in version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Returns the migration with `version`.
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |migration| migration.version)
            .ok()
            .map(|index| &self.migrations[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse() {
        assert_eq!(
            parse_file_name("20250101_create_users.up.sql"),
            Some((20250101, "create_users", Direction::Up))
        );
        assert_eq!(
            parse_file_name("7_x.down.sql"),
            Some((7, "x", Direction::Down))
        );
        assert_eq!(parse_file_name("create_users.up.sql"), None);
        assert_eq!(parse_file_name("7_.up.sql"), None);
        assert_eq!(parse_file_name("7_x.sql"), None);
    }

    #[test]
    fn duplicate_versions_rejected() {
        let files = [
            ("1_a.up.sql", String::from("SELECT 1;")),
            ("1_b.up.sql", String::from("SELECT 2;")),
        ];
        let error = collect(files).unwrap_err();
        assert!(
            error.to_string().contains("version 1 is used twice"),
            "{error}"
        );
    }

    #[test]
    fn down_without_up_rejected() {
        let files = [("3_a.down.sql", String::from("DROP TABLE a;"))];
        let error = collect(files).unwrap_err();
        assert!(error.to_string().contains("no `3_a.up.sql`"), "{error}");
    }

    #[test]
    fn set_orders_by_version() {
        let set = MigrationSet::new([
            Migration::sql(2, "b", "SELECT 2;", None).unwrap(),
            Migration::sql(1, "a", "SELECT 1;", None).unwrap(),
        ])
        .unwrap();
        let versions: Vec<i64> = set.migrations().iter().map(Migration::version).collect();
        assert_eq!(versions, [1, 2]);
        assert!(set.get(2).is_some());
        assert!(set.get(3).is_none());
    }
}
