//! Code generation for `#[derive(Model)]`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Fields, FieldsNamed, GenericArgument, Ident, PathArguments, Type, Visibility,
};

use crate::attr::{Errors, FieldOptions, RelationKind, RelationOptions, parse_field, parse_struct};
use crate::behaviour::{Behaviour, check_behaviour_field, find_behaviour_columns};

/// One stored column, as the generated code needs it.
pub(crate) struct Column {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    name: String,
    pub(crate) options: FieldOptions,
    /// For `#[covet(json)]` fields declared `Option<T>`: true.
    json_optional: bool,
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let struct_options = parse_struct(&input.attrs, &mut errors);
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Model)] does not support generic parameters; \
             a model's field types must be concrete",
        ));
    }
    let named = match named_fields(input) {
        Ok(named) => named,
        Err(error) => {
            errors.push(error);
            errors.finish()?;
            unreachable!("an error was pushed");
        }
    };

    let mut columns: Vec<Column> = Vec::new();
    let mut skipped = Vec::new();
    for field in &named.named {
        let ident = field.ident.clone().expect("named fields have names");
        let options = parse_field(&field.attrs, &mut errors);
        check_field(&ident, &field.ty, &options, &mut errors);
        check_behaviour_field(&field.ty, &options, &mut errors);
        if options.skip.is_some() {
            skipped.push(ident);
            continue;
        }
        let name = match &options.rename {
            Some(rename) => rename.value(),
            None => unraw(&ident),
        };
        check_column_name(&ident, &name, &options, &columns, &mut errors);
        let json_optional = options.json.is_some() && option_inner(&field.ty).is_some();
        columns.push(Column {
            ident,
            ty: field.ty.clone(),
            name,
            options,
            json_optional,
        });
    }
    if columns
        .iter()
        .all(|column| column.options.primary_key.is_none())
    {
        errors.push(syn::Error::new(
            input.ident.span(),
            format!(
                "model `{}` has no primary key; mark its key field with #[covet(primary_key)]",
                input.ident
            ),
        ));
    }
    check_relation_names(&struct_options.relations, &mut errors);
    let behaviour = find_behaviour_columns(&columns, &mut errors);
    errors.finish()?;

    let table = match &struct_options.table {
        Some(table) => table.value(),
        None => snake_case(&input.ident.to_string()),
    };
    let behaviour = Behaviour {
        struct_options: &struct_options,
        columns: &columns,
        version: behaviour.0,
        soft_delete: behaviour.1,
    };
    Ok(generate(
        input,
        &table,
        &columns,
        &skipped,
        &behaviour,
        &struct_options.relations,
    ))
}

/// Returns the named fields of a struct, or an error naming the kind of item that was
/// given instead.
fn named_fields(input: &DeriveInput) -> syn::Result<&FieldsNamed> {
    const NEEDED: &str = "a model is a struct with named fields, one per column";
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Ok(named),
            Fields::Unnamed(unnamed) => Err(syn::Error::new_spanned(
                unnamed,
                format!("#[derive(Model)] does not support tuple structs; {NEEDED}"),
            )),
            Fields::Unit => Err(syn::Error::new(
                input.ident.span(),
                format!("#[derive(Model)] does not support unit structs; {NEEDED}"),
            )),
        },
        Data::Enum(data) => Err(syn::Error::new(
            data.enum_token.span,
            format!("#[derive(Model)] does not support enums; {NEEDED}"),
        )),
        Data::Union(data) => Err(syn::Error::new(
            data.union_token.span,
            format!("#[derive(Model)] does not support unions; {NEEDED}"),
        )),
    }
}

fn check_field(ident: &Ident, ty: &Type, options: &FieldOptions, errors: &mut Errors) {
    let constant = unraw(ident).to_uppercase();
    if options.skip.is_none() && (constant == "TABLE" || constant == "COLUMNS") {
        errors.push(syn::Error::new(
            ident.span(),
            format!(
                "a column constant named `{constant}` would hide `Model::{constant}`; rename the \
                 field and keep the column name with #[covet(rename = \"{}\")]",
                unraw(ident)
            ),
        ));
    }
    if options.skip.is_some() {
        // Each attribute that a skipped field cannot take gets its own error at the place
        // it is written.
        let flags = [
            ("primary_key", options.primary_key),
            ("auto_increment", options.auto_increment),
            ("generated", options.generated),
            ("unique", options.unique),
            ("json", options.json),
            ("version", options.version),
            ("soft_delete", options.soft_delete),
        ];
        let mut conflicts: Vec<(&str, Span)> = flags
            .into_iter()
            .filter_map(|(name, span)| Some((name, span?)))
            .collect();
        if let Some(rename) = &options.rename {
            conflicts.push(("rename", rename.span()));
        }
        if let Some(column_type) = &options.column_type {
            conflicts.push(("column_type", column_type.span()));
        }
        for (name, span) in conflicts {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`{ident}` is marked `skip`, so it is not a column and cannot take `{name}`"
                ),
            ));
        }
    }
    if let Some(span) = options.auto_increment {
        if options.primary_key.is_none() {
            errors.push(syn::Error::new(
                span,
                "`auto_increment` needs `primary_key` on the same field",
            ));
        }
        if !is_integer(ty) {
            errors.push(syn::Error::new_spanned(
                ty,
                "`auto_increment` needs an integer type: i16, i32, i64 or u64, or an Option of one",
            ));
        }
    }
    if let Some(span) = options.json
        && options.primary_key.is_some()
    {
        errors.push(syn::Error::new(
            span,
            "a `json` field cannot be part of the primary key",
        ));
    }
}

/// Rejects a column name that an earlier field already maps to. Names are compared
/// ignoring ASCII case, because SQLite and MySQL treat column names that way.
fn check_column_name(
    ident: &Ident,
    name: &str,
    options: &FieldOptions,
    earlier: &[Column],
    errors: &mut Errors,
) {
    let Some(other) = earlier
        .iter()
        .find(|column| column.name.eq_ignore_ascii_case(name))
    else {
        return;
    };
    let span = match &options.rename {
        Some(rename) => rename.span(),
        None => ident.span(),
    };
    errors.push(syn::Error::new(
        span,
        format!(
            "column `{name}` is already used by field `{}`; give one of them another name \
             with #[covet(rename = \"...\")]",
            other.ident
        ),
    ));
}

fn generate(
    input: &DeriveInput,
    table: &str,
    columns: &[Column],
    skipped: &[Ident],
    behaviour: &Behaviour<'_>,
    relations: &[RelationOptions],
) -> TokenStream {
    let ident = &input.ident;
    let vis = &input.vis;
    let behaviour_items = behaviour.model_items();
    let hooks_impl = behaviour.hooks_impl(ident);
    let column_infos = columns.iter().map(column_info);
    let decoders = columns.iter().enumerate().map(|(index, column)| {
        let field = &column.ident;
        let ty = &column.ty;
        let decode = if column.options.json.is_some() {
            let (function, json_type) = json_function(column, "decode");
            quote!(::covet::__private::#function::<#json_type>(row, offset + #index)?)
        } else {
            quote_spanned!(ty.span()=> <#ty as ::covet::Field>::decode(row, offset + #index)?)
        };
        quote!(#field: #decode)
    });
    let defaults = skipped
        .iter()
        .map(|field| quote!(#field: ::core::default::Default::default()));
    let values = columns.iter().map(|column| {
        let field = &column.ident;
        let name = &column.name;
        if column.options.json.is_some() {
            let (function, json_type) = json_function(column, "to_value");
            quote!(::covet::__private::#function::<#json_type>(&self.#field, #name)?)
        } else {
            let ty = &column.ty;
            quote!(<#ty as ::covet::Field>::to_value(&self.#field))
        }
    });
    let keys: Vec<&Column> = columns
        .iter()
        .filter(|column| column.options.primary_key.is_some())
        .collect();
    let key_fields: Vec<&Ident> = keys.iter().map(|column| &column.ident).collect();
    let key_types: Vec<&Type> = keys.iter().map(|column| &column.ty).collect();
    let (key_type, key_value, key_values) = if keys.len() == 1 {
        let field = key_fields[0];
        let ty = key_types[0];
        (
            quote!(#ty),
            quote!(::core::clone::Clone::clone(&self.#field)),
            quote!(::std::vec![<#ty as ::covet::Field>::to_value(key)]),
        )
    } else {
        let positions = (0..keys.len()).map(syn::Index::from);
        (
            quote!((#(#key_types,)*)),
            quote!((#(::core::clone::Clone::clone(&self.#key_fields),)*)),
            quote!(::std::vec![#(<#key_types as ::covet::Field>::to_value(&key.#positions)),*]),
        )
    };
    let unset_arms = columns.iter().enumerate().filter_map(|(index, column)| {
        let generated =
            column.options.generated.is_some() || column.options.auto_increment.is_some();
        let field = &column.ident;
        let unset = if column.options.json.is_none() {
            quote!(::covet::Field::is_unset_key(&self.#field))
        } else if column.json_optional {
            quote!(::core::option::Option::is_none(&self.#field))
        } else {
            // A json field that is not an Option has no unset value.
            quote!(false)
        };
        generated.then(|| quote!(#index => #unset,))
    });
    let constants = columns.iter().enumerate().map(|(index, column)| {
        let constant = format_ident!("{}", unraw(&column.ident).to_uppercase());
        let ty = &column.ty;
        let name = &column.name;
        let doc = format!("The `{name}` column.");
        let const_vis = constant_visibility(vis);
        let field = &column.ident;
        quote! {
            #[doc = #doc]
            #const_vis const #constant: ::covet::Column<#ident, #ty> = {
                fn get(row: &#ident) -> &#ty {
                    &row.#field
                }
                ::covet::Column::new(#name, #index, get)
            };
        }
    });

    let single_key = single_key(ident, &keys);
    let relation_methods = relations
        .iter()
        .map(|relation| relation_method(ident, vis, relation));

    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::covet::Model for #ident {
                type PrimaryKey = #key_type;
                const TABLE: &'static str = #table;
                const COLUMNS: &'static [::covet::ColumnInfo] = &[#(#column_infos),*];

                fn decode(
                    row: &dyn ::covet::RowReader,
                    offset: usize,
                ) -> ::covet::Result<Self> {
                    ::core::result::Result::Ok(Self { #(#decoders,)* #(#defaults,)* })
                }

                fn values(&self) -> ::covet::Result<::std::vec::Vec<::covet::__private::Value>> {
                    ::core::result::Result::Ok(::std::vec![#(#values),*])
                }

                fn primary_key(&self) -> Self::PrimaryKey {
                    #key_value
                }

                fn key_values(key: &Self::PrimaryKey) -> ::std::vec::Vec<::covet::__private::Value> {
                    #key_values
                }

                fn is_unset(&self, index: usize) -> bool {
                    match index {
                        #(#unset_arms)*
                        _ => false,
                    }
                }

                #behaviour_items
            }

            #hooks_impl

            #[automatically_derived]
            impl #ident {
                #(#constants)*
                #(#relation_methods)*
            }

            #single_key
        };
    }
}

/// Generates the `SingleKey` implementation of a model with one key column.
fn single_key(ident: &Ident, keys: &[&Column]) -> TokenStream {
    let [key] = keys else {
        return TokenStream::new();
    };
    let ty = &key.ty;
    let constant = format_ident!("{}", unraw(&key.ident).to_uppercase());
    quote! {
        #[automatically_derived]
        impl ::covet::SingleKey for #ident {
            type Key = #ty;
            const KEY: ::covet::Column<Self, #ty> = #ident::#constant;
        }
    }
}

/// Returns the snake_case name of the last segment of a model path.
fn model_snake_name(model: &syn::Path) -> String {
    model
        .segments
        .last()
        .map(|segment| snake_case(&segment.ident.to_string()))
        .unwrap_or_default()
}

/// Returns the name of a relation's method: its `name`, or the related model in
/// snake_case, with an `s` for lists.
fn relation_method_name(relation: &RelationOptions) -> String {
    let model_name = model_snake_name(&relation.model);
    match (&relation.name, relation.kind) {
        (Some(name), _) => name.value(),
        (None, RelationKind::BelongsTo | RelationKind::HasOne) => model_name,
        (None, RelationKind::HasMany | RelationKind::ManyToMany) => format!("{model_name}s"),
    }
}

/// Rejects two relations whose methods would have the same name.
fn check_relation_names(relations: &[RelationOptions], errors: &mut Errors) {
    for (index, relation) in relations.iter().enumerate() {
        let name = relation_method_name(relation);
        if relations[..index]
            .iter()
            .any(|earlier| relation_method_name(earlier) == name)
        {
            errors.push(syn::Error::new(
                relation.span,
                format!(
                    "two relations are named `{name}`; give this one another method name with `name = \"...\"`"
                ),
            ));
        }
    }
}

/// Generates the method that returns a declared relation, with the key columns found by
/// convention unless the attribute names them.
fn relation_method(ident: &Ident, vis: &Visibility, relation: &RelationOptions) -> TokenStream {
    let model = &relation.model;
    let model_name = model_snake_name(model);
    let own_name = snake_case(&ident.to_string());
    let field = |option: &Option<syn::LitStr>, default: String| {
        let name = option.as_ref().map_or(default, syn::LitStr::value);
        format_ident!("{}", name.to_uppercase(), span = relation.span)
    };
    let method = format_ident!("{}", relation_method_name(relation), span = relation.span);
    let span = relation.span;
    let (cardinality, body, doc) = match relation.kind {
        RelationKind::BelongsTo => {
            let foreign_key = field(&relation.foreign_key, format!("{model_name}_id"));
            (
                quote!(::covet::One),
                quote_spanned! {span=>
                    ::covet::Relation::belongs_to(#ident::#foreign_key, <#model as ::covet::SingleKey>::KEY)
                },
                format!("The `{model_name}` this row belongs to (a belongs-to relation)."),
            )
        }
        RelationKind::HasOne | RelationKind::HasMany => {
            let foreign_key = field(&relation.foreign_key, format!("{own_name}_id"));
            let (cardinality, constructor, what) = if relation.kind == RelationKind::HasOne {
                (quote!(::covet::One), quote!(has_one), "has-one")
            } else {
                (quote!(::covet::Many), quote!(has_many), "has-many")
            };
            (
                cardinality,
                quote_spanned! {span=>
                    ::covet::Relation::#constructor(<#ident as ::covet::SingleKey>::KEY, #model::#foreign_key)
                },
                format!("The `{model_name}` rows of this row (a {what} relation)."),
            )
        }
        RelationKind::ManyToMany => {
            let through = relation.through.as_ref().expect("checked when parsed");
            let from = field(&relation.from, format!("{own_name}_id"));
            let to = field(&relation.to, format!("{model_name}_id"));
            (
                quote!(::covet::Many),
                quote_spanned! {span=>
                    ::covet::Relation::many_to_many(
                        <#ident as ::covet::SingleKey>::KEY,
                        #through::#from,
                        #through::#to,
                        <#model as ::covet::SingleKey>::KEY,
                    )
                },
                format!("The `{model_name}` rows linked to this row through a join table."),
            )
        }
    };
    quote! {
        #[doc = #doc]
        #vis fn #method() -> ::covet::Relation<#ident, #model, #cardinality> {
            #body
        }
    }
}

fn column_info(column: &Column) -> TokenStream {
    let ty = &column.ty;
    let name = &column.name;
    let field = unraw(&column.ident);
    let flag = |option: Option<Span>| option.is_some();
    let primary_key = flag(column.options.primary_key);
    let auto_increment = flag(column.options.auto_increment);
    let generated = auto_increment || flag(column.options.generated);
    let unique = flag(column.options.unique);
    let column_type = match &column.options.column_type {
        Some(column_type) => quote!(::core::option::Option::Some(#column_type)),
        None => quote!(::core::option::Option::None),
    };
    let (sql_type, nullable) = if column.options.json.is_some() {
        let nullable = column.json_optional;
        (quote!(::covet::SqlType::Json), quote!(#nullable))
    } else {
        (
            quote_spanned!(ty.span()=> <#ty as ::covet::Field>::SQL_TYPE),
            quote_spanned!(ty.span()=> <#ty as ::covet::Field>::NULLABLE),
        )
    };
    quote! {
        ::covet::ColumnInfo {
            name: #name,
            field: #field,
            sql_type: #sql_type,
            nullable: #nullable,
            primary_key: #primary_key,
            auto_increment: #auto_increment,
            generated: #generated,
            unique: #unique,
            column_type: #column_type,
        }
    }
}

/// Returns the `covet::__private` json helper for `operation` ("decode" or "to_value")
/// and the serde type it takes, which is the inner type of an `Option` field. Generated
/// code names that type in a turbofish, so that rustc reports a missing `Serialize` or
/// `Deserialize` implementation at the field's type.
fn json_function(column: &Column, operation: &str) -> (Ident, Type) {
    if column.json_optional {
        let inner = option_inner(&column.ty).expect("json_optional fields are Options");
        (format_ident!("json_option_{operation}"), inner.clone())
    } else {
        (format_ident!("json_{operation}"), column.ty.clone())
    }
}

/// Gives the column constants the struct's visibility, so a private model gets private
/// constants and a public one public constants.
fn constant_visibility(vis: &Visibility) -> TokenStream {
    quote!(#vis)
}

/// Returns `T` for a type written `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    match arguments.args.first()? {
        GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}

fn is_integer(ty: &Type) -> bool {
    let ty = option_inner(ty).unwrap_or(ty);
    let Type::Path(path) = ty else { return false };
    path.path.segments.last().is_some_and(|segment| {
        ["i16", "i32", "i64", "u64"]
            .iter()
            .any(|name| segment.ident == name)
    })
}

fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// Converts `BlogPost` to `blog_post`.
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (position, character) in name.char_indices() {
        if character.is_uppercase() {
            if position > 0 {
                snake.push('_');
            }
            snake.extend(character.to_lowercase());
        } else {
            snake.push(character);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_splits_words() {
        assert_eq!(snake_case("BlogPost"), "blog_post");
        assert_eq!(snake_case("User"), "user");
    }
}
