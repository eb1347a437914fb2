//! The column and struct attributes that change how writes behave: `version` (optimistic
//! locking), `soft_delete` and `hooks`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{GenericArgument, Ident, PathArguments, Type};

use crate::attr::{Errors, FieldOptions, StructOptions};
use crate::model::{Column, option_inner};

/// The write behaviour of one model, as the generated `Model` impl needs it.
pub(crate) struct Behaviour<'a> {
    pub(crate) struct_options: &'a StructOptions,
    pub(crate) columns: &'a [Column],
    /// The index of the `version` column.
    pub(crate) version: Option<usize>,
    /// The index of the `soft_delete` column.
    pub(crate) soft_delete: Option<usize>,
}

/// Checks the types and attribute combinations of one field's `version` and `soft_delete`.
pub(crate) fn check_behaviour_field(ty: &Type, options: &FieldOptions, errors: &mut Errors) {
    if let Some(span) = options.version {
        if !is_version_type(ty) {
            errors.push(syn::Error::new_spanned(
                ty,
                "`version` needs an i32 or i64 field, which holds the row's version number",
            ));
        }
        reject_with_key_or_json("version", span, options, errors);
    }
    if let Some(span) = options.soft_delete {
        if !is_soft_delete_type(ty) {
            errors.push(syn::Error::new_spanned(
                ty,
                "`soft_delete` needs an `Option<chrono::DateTime<Utc>>` or \
                 `Option<chrono::NaiveDateTime>` field, which is None while the row is live",
            ));
        }
        reject_with_key_or_json("soft_delete", span, options, errors);
    }
}

fn reject_with_key_or_json(name: &str, span: Span, options: &FieldOptions, errors: &mut Errors) {
    if options.primary_key.is_some() {
        errors.push(syn::Error::new(
            span,
            format!("a `{name}` field cannot be part of the primary key"),
        ));
    }
    if options.json.is_some() {
        errors.push(syn::Error::new(
            span,
            format!("a `{name}` field cannot be `json`"),
        ));
    }
}

/// Returns the indexes of the `version` and `soft_delete` columns, rejecting a second one of
/// either kind at the place it is written.
pub(crate) fn find_behaviour_columns(
    columns: &[Column],
    errors: &mut Errors,
) -> (Option<usize>, Option<usize>) {
    let version = single_column(columns, "version", |options| options.version, errors);
    let soft_delete = single_column(
        columns,
        "soft_delete",
        |options| options.soft_delete,
        errors,
    );
    (version, soft_delete)
}

fn single_column(
    columns: &[Column],
    name: &str,
    flag: impl Fn(&FieldOptions) -> Option<Span>,
    errors: &mut Errors,
) -> Option<usize> {
    let mut found: Option<usize> = None;
    for (index, column) in columns.iter().enumerate() {
        let Some(span) = flag(&column.options) else {
            continue;
        };
        match found {
            Some(first) => errors.push(syn::Error::new(
                span,
                format!(
                    "`{name}` is already on field `{}`; a model can have only one `{name}` \
                     column",
                    columns[first].ident
                ),
            )),
            None => found = Some(index),
        }
    }
    found
}

impl Behaviour<'_> {
    /// Returns the `Model` items for the version column, the soft-delete column and hooks.
    pub(crate) fn model_items(&self) -> TokenStream {
        let mut items = TokenStream::new();
        if let Some(index) = self.version {
            let field = &self.columns[index].ident;
            let ty = &self.columns[index].ty;
            items.extend(quote! {
                const VERSION_COLUMN: ::core::option::Option<usize> =
                    ::core::option::Option::Some(#index);

                fn version(&self) -> ::core::option::Option<i64> {
                    ::core::option::Option::Some(::core::convert::From::from(self.#field))
                }

                fn set_version(&mut self, version: i64) -> ::covet::Result<()> {
                    self.#field = ::covet::__private::version_from_i64::<#ty>(
                        version,
                        <Self as ::covet::Model>::TABLE,
                    )?;
                    ::core::result::Result::Ok(())
                }
            });
        }
        if let Some(index) = self.soft_delete {
            items.extend(quote! {
                const SOFT_DELETE_COLUMN: ::core::option::Option<usize> =
                    ::core::option::Option::Some(#index);
            });
        }
        if let Some(span) = self.struct_options.hooks {
            // Spanned at `hooks`, so a model without `Clone` gets its error there.
            let clone = quote_spanned!(span=> <Self as ::core::clone::Clone>::clone(self));
            items.extend(quote! {
                const HOOKS: bool = true;

                fn clone_for_hooks(&self) -> ::core::option::Option<Self> {
                    ::core::option::Option::Some(#clone)
                }
            });
        }
        items
    }

    /// Returns the no-op `Hooks` impl of a model without `#[covet(hooks)]`.
    pub(crate) fn hooks_impl(&self, ident: &Ident) -> TokenStream {
        if self.struct_options.hooks.is_some() {
            return TokenStream::new();
        }
        quote! {
            #[automatically_derived]
            impl ::covet::Hooks for #ident {}
        }
    }
}

/// Returns whether `ty` is written `i32` or `i64`.
fn is_version_type(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.qself.is_none()
        && path.path.segments.last().is_some_and(|segment| {
            segment.arguments.is_empty() && (segment.ident == "i32" || segment.ident == "i64")
        })
}

/// Returns whether `ty` is written `Option<DateTime<Utc>>` or `Option<NaiveDateTime>`, with
/// or without a path before each name.
fn is_soft_delete_type(ty: &Type) -> bool {
    let Some(Type::Path(inner)) = option_inner(ty) else {
        return false;
    };
    let Some(segment) = inner.path.segments.last() else {
        return false;
    };
    if segment.ident == "NaiveDateTime" {
        return segment.arguments.is_empty();
    }
    if segment.ident != "DateTime" {
        return false;
    }
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return false;
    };
    let mut arguments = arguments.args.iter();
    match (arguments.next(), arguments.next()) {
        (Some(GenericArgument::Type(Type::Path(zone))), None) => zone
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Utc"),
        _ => false,
    }
}
