//! `embed_migrations!`: migration files compiled into the binary.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// Reads the directory named by `input`, relative to the calling crate's manifest, and
/// expands to a `MigrationSet` built from the embedded files.
pub(crate) fn expand(input: &LitStr) -> syn::Result<TokenStream> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| syn::Error::new(input.span(), "CARGO_MANIFEST_DIR is not set"))?;
    let directory = PathBuf::from(manifest).join(input.value());
    let entries = std::fs::read_dir(&directory).map_err(|error| {
        syn::Error::new(
            input.span(),
            format!(
                "cannot read the migration directory `{}`: {error}",
                directory.display()
            ),
        )
    })?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry
            .map_err(|error| syn::Error::new(input.span(), error.to_string()))?
            .path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if name.ends_with(".sql") {
            files.insert(name.to_owned(), path.display().to_string());
        }
    }
    check_versions(input, files.keys())?;
    let embedded = files.iter().map(|(name, path)| {
        quote! {
            ::covet_migrate::EmbeddedFile {
                file_name: #name,
                contents: ::core::include_str!(#path),
            }
        }
    });
    Ok(quote! {
        ::covet_migrate::MigrationSet::from_embedded(&[#(#embedded),*])
    })
}

/// Rejects file names that do not fit `VERSION_NAME.up.sql` / `.down.sql`, and versions
/// used by two names, at compile time.
fn check_versions<'a>(input: &LitStr, names: impl Iterator<Item = &'a String>) -> syn::Result<()> {
    let mut seen: BTreeMap<i64, &str> = BTreeMap::new();
    for name in names {
        let stem = name
            .strip_suffix(".up.sql")
            .or_else(|| name.strip_suffix(".down.sql"));
        let parsed = stem
            .and_then(|stem| stem.split_once('_'))
            .and_then(|(version, rest)| {
                let version: i64 = version.parse().ok()?;
                (!rest.is_empty()).then_some((version, rest))
            });
        let Some((version, migration)) = parsed else {
            return Err(syn::Error::new(
                input.span(),
                format!(
                    "`{name}` is not a migration file name; use VERSION_NAME.up.sql and \
                     VERSION_NAME.down.sql"
                ),
            ));
        };
        if let Some(other) = seen.insert(version, migration)
            && other != migration
        {
            return Err(syn::Error::new(
                input.span(),
                format!("version {version} is used twice, by `{other}` and `{migration}`"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_versions;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    fn literal() -> syn::LitStr {
        syn::LitStr::new("migrations", proc_macro2::Span::call_site())
    }

    #[test]
    fn pairs_of_one_version_pass() {
        let files = names(&["1_a.up.sql", "1_a.down.sql", "2_b.up.sql"]);
        assert!(check_versions(&literal(), files.iter()).is_ok());
    }

    #[test]
    fn duplicate_version_fails() {
        let files = names(&["1_a.up.sql", "1_b.up.sql"]);
        let error = check_versions(&literal(), files.iter()).unwrap_err();
        assert!(
            error.to_string().contains("version 1 is used twice"),
            "{error}"
        );
    }

    #[test]
    fn misnamed_file_fails() {
        let files = names(&["create_users.sql"]);
        let error = check_versions(&literal(), files.iter()).unwrap_err();
        assert!(error.to_string().contains("create_users.sql"), "{error}");
    }
}
