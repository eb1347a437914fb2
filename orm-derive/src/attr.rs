//! Parsing of `#[covet(...)]` attributes into typed options that keep their spans.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr};

const STRUCT_KEYS: &[&str] = &["table", "hooks"];
const FIELD_KEYS: &[&str] = &[
    "primary_key",
    "auto_increment",
    "generated",
    "unique",
    "rename",
    "json",
    "column_type",
    "skip",
    "version",
    "soft_delete",
];

/// Options of the struct-level attribute.
#[derive(Default)]
pub(crate) struct StructOptions {
    pub(crate) table: Option<LitStr>,
    /// The span of `hooks`, which says that the user implements `covet::Hooks`.
    pub(crate) hooks: Option<Span>,
}

/// Options of one field's attributes. Each flag keeps the span it was written at.
#[derive(Default)]
pub(crate) struct FieldOptions {
    pub(crate) primary_key: Option<Span>,
    pub(crate) auto_increment: Option<Span>,
    pub(crate) generated: Option<Span>,
    pub(crate) unique: Option<Span>,
    pub(crate) json: Option<Span>,
    pub(crate) skip: Option<Span>,
    pub(crate) version: Option<Span>,
    pub(crate) soft_delete: Option<Span>,
    pub(crate) rename: Option<LitStr>,
    pub(crate) column_type: Option<LitStr>,
}

/// Collects errors so that a user sees every mistake at once, not only the first.
#[derive(Default)]
pub(crate) struct Errors {
    error: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(existing) => existing.combine(error),
            None => self.error = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

fn covet_attributes(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("covet"))
}

pub(crate) fn parse_struct(attrs: &[Attribute], errors: &mut Errors) -> StructOptions {
    let mut options = StructOptions::default();
    for attr in covet_attributes(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                let value: LitStr = meta.value()?.parse()?;
                if options.table.is_some() {
                    return Err(meta.error("duplicate attribute `table`"));
                }
                if value.value().is_empty() {
                    return Err(syn::Error::new(value.span(), "`table` cannot be empty"));
                }
                options.table = Some(value);
                Ok(())
            } else if meta.path.is_ident("hooks") {
                if options.hooks.is_some() {
                    return Err(meta.error("duplicate attribute `hooks`"));
                }
                options.hooks = Some(meta.path.span());
                Ok(())
            } else {
                let name = path_name(&meta.path);
                if FIELD_KEYS.contains(&name.as_str()) {
                    Err(meta.error(format!(
                        "`{name}` is a field attribute; put it on a field, not on the struct"
                    )))
                } else {
                    Err(meta.error(format!(
                        "unknown covet struct attribute `{name}`; expected: {}",
                        STRUCT_KEYS.join(", ")
                    )))
                }
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    options
}

pub(crate) fn parse_field(attrs: &[Attribute], errors: &mut Errors) -> FieldOptions {
    let mut options = FieldOptions::default();
    for attr in covet_attributes(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let flag = match path_name(&meta.path).as_str() {
                "primary_key" => &mut options.primary_key,
                "auto_increment" => &mut options.auto_increment,
                "generated" => &mut options.generated,
                "unique" => &mut options.unique,
                "json" => &mut options.json,
                "skip" => &mut options.skip,
                "version" => &mut options.version,
                "soft_delete" => &mut options.soft_delete,
                "rename" | "column_type" => {
                    let value: LitStr = meta.value()?.parse()?;
                    if value.value().is_empty() {
                        return Err(syn::Error::new(
                            value.span(),
                            format!("`{}` cannot be empty", path_name(&meta.path)),
                        ));
                    }
                    let slot = if meta.path.is_ident("rename") {
                        &mut options.rename
                    } else {
                        &mut options.column_type
                    };
                    if slot.is_some() {
                        return Err(
                            meta.error(format!("duplicate attribute `{}`", path_name(&meta.path)))
                        );
                    }
                    *slot = Some(value);
                    return Ok(());
                }
                other if STRUCT_KEYS.contains(&other) => {
                    return Err(meta.error(format!(
                        "`{other}` is a struct attribute; put it on the struct, not on a field"
                    )));
                }
                other => {
                    return Err(meta.error(format!(
                        "unknown covet field attribute `{other}`; expected one of: {}",
                        FIELD_KEYS.join(", ")
                    )));
                }
            };
            if flag.is_some() {
                return Err(meta.error(format!("duplicate attribute `{}`", path_name(&meta.path))));
            }
            *flag = Some(span);
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    options
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
