//! Code generation for `#[derive(FromRow)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    const NEEDED: &str = "a query result is a struct with named fields, one per selected item";
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            _ => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    format!("#[derive(FromRow)] needs named fields; {NEEDED}"),
                ));
            }
        },
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                format!("#[derive(FromRow)] supports structs only; {NEEDED}"),
            ));
        }
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(FromRow)] does not support generic parameters",
        ));
    }
    let ident = &input.ident;
    let width = fields.len();
    let decoders = fields.iter().enumerate().map(|(index, field)| {
        let name = field.ident.as_ref().expect("named fields have names");
        let ty = &field.ty;
        let decode =
            quote_spanned!(ty.span()=> <#ty as ::covet::Field>::decode(row, offset + #index)?);
        quote!(#name: #decode)
    });
    Ok(quote! {
        #[automatically_derived]
        impl ::covet::query::FromRow for #ident {
            const WIDTH: usize = #width;

            fn from_row(
                row: &dyn ::covet::RowReader,
                offset: usize,
            ) -> ::covet::Result<Self> {
                ::core::result::Result::Ok(Self { #(#decoders,)* })
            }
        }
    })
}
