//! Parsing of `#[covet(...)]` attributes into typed options that keep their spans.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr};

const STRUCT_KEYS: &[&str] = &[
    "table",
    "hooks",
    "belongs_to",
    "has_one",
    "has_many",
    "many_to_many",
];
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
    /// The span of `hooks`, which marks a model whose `covet::Hooks` impl the user writes.
    pub(crate) hooks: Option<Span>,
    pub(crate) relations: Vec<RelationOptions>,
}

/// The kinds of relation a model can declare.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelationKind {
    BelongsTo,
    HasOne,
    HasMany,
    ManyToMany,
}

impl RelationKind {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "belongs_to" => Some(Self::BelongsTo),
            "has_one" => Some(Self::HasOne),
            "has_many" => Some(Self::HasMany),
            "many_to_many" => Some(Self::ManyToMany),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::BelongsTo => "belongs_to",
            Self::HasOne => "has_one",
            Self::HasMany => "has_many",
            Self::ManyToMany => "many_to_many",
        }
    }
}

/// One `belongs_to(...)`, `has_one(...)`, `has_many(...)` or `many_to_many(...)`.
pub(crate) struct RelationOptions {
    pub(crate) kind: RelationKind,
    pub(crate) span: Span,
    /// The related model.
    pub(crate) model: syn::Path,
    /// The method name; by convention the related model in snake_case, plural for lists.
    pub(crate) name: Option<LitStr>,
    /// The foreign key field, on this model for belongs_to and on the related model for
    /// has_one and has_many.
    pub(crate) foreign_key: Option<LitStr>,
    /// The join table model of many_to_many.
    pub(crate) through: Option<syn::Path>,
    /// The join table's field that refers to this model (many_to_many).
    pub(crate) from: Option<LitStr>,
    /// The join table's field that refers to the related model (many_to_many).
    pub(crate) to: Option<LitStr>,
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
            } else if let Some(kind) = RelationKind::from_name(&path_name(&meta.path)) {
                let relation = parse_relation(kind, &meta)?;
                options.relations.push(relation);
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

/// Parses the arguments of a relation: the related model first, then named options.
fn parse_relation(
    kind: RelationKind,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<RelationOptions> {
    let span = meta.path.span();
    let mut model: Option<syn::Path> = None;
    let mut name = None;
    let mut foreign_key = None;
    let mut through = None;
    let mut from = None;
    let mut to = None;
    let allowed: &[&str] = match kind {
        RelationKind::ManyToMany => &["name", "through", "from", "to"],
        _ => &["name", "foreign_key"],
    };
    meta.parse_nested_meta(|inner| {
        let key = path_name(&inner.path);
        if !inner.input.peek(syn::Token![=]) {
            if model.is_some() {
                return Err(inner.error(format!(
                    "`{}` takes one related model; `{key}` is a second one",
                    kind.name()
                )));
            }
            model = Some(inner.path.clone());
            return Ok(());
        }
        if !allowed.contains(&key.as_str()) {
            return Err(inner.error(format!(
                "unknown `{}` option `{key}`; expected the related model, then: {}",
                kind.name(),
                allowed.join(", ")
            )));
        }
        if key == "through" {
            if through.is_some() {
                return Err(inner.error("duplicate option `through`"));
            }
            through = Some(inner.value()?.parse::<syn::Path>()?);
            return Ok(());
        }
        let value: LitStr = inner.value()?.parse()?;
        if value.value().is_empty() {
            return Err(syn::Error::new(
                value.span(),
                format!("`{key}` cannot be empty"),
            ));
        }
        let slot = match key.as_str() {
            "name" => &mut name,
            "foreign_key" => &mut foreign_key,
            "from" => &mut from,
            _ => &mut to,
        };
        if slot.is_some() {
            return Err(inner.error(format!("duplicate option `{key}`")));
        }
        *slot = Some(value);
        Ok(())
    })?;
    let Some(model) = model else {
        return Err(syn::Error::new(
            span,
            format!(
                "`{}` needs the related model, as in `{}(User)`",
                kind.name(),
                kind.name()
            ),
        ));
    };
    if kind == RelationKind::ManyToMany && through.is_none() {
        return Err(syn::Error::new(
            span,
            "`many_to_many` needs its join table model, as in `many_to_many(Tag, through = PostTag)`",
        ));
    }
    Ok(RelationOptions {
        kind,
        span,
        model,
        name,
        foreign_key,
        through,
        from,
        to,
    })
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
