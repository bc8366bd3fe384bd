//! The `#[leak_free]` attribute of leakcheck; use it through `leakcheck::leak_free`.
//!
//! The attribute only rewrites the test function: the body is handed, as a closure (or an
//! `async` block), to `leakcheck::leak_free::run`, which does the work at run time (see
//! that module's documentation for the protocol between the test and its traced re-run).

mod args;
mod source_scan;

use args::Args;
use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, ItemFn, ReturnType, Type};

/// Marks a test that must not touch the network beyond its allow list.
///
/// ```ignore
/// use leakcheck::leak_free;
///
/// #[leak_free]                                 // `#[test]` is added when absent
/// fn hermetic() { /* no network at all */ }
///
/// #[leak_free(allow = ["127.0.0.1:9050"], interface-enumeration = "allow")]
/// #[tokio::test]
/// async fn through_tor() { /* ... */ }
/// ```
///
/// Under plain `cargo test` the test re-runs only itself, in a child process of the test
/// binary traced by strace, and fails with the leak report (each finding and the allow
/// list in force) when anything leaked or the trace cannot be trusted, even when the
/// body passed or panicked as `#[should_panic]` expected. Otherwise it behaves as the
/// body would: a panic's message, a `Result` body's error, `#[ignore]` and the captured
/// output are those of the body. Under `cargo leakcheck` (or any other tracer) the body
/// runs directly, and the attribute's own policy is handed to `cargo leakcheck`.
///
/// Arguments (all optional), added to the crate's `[package.metadata.leakcheck]` policy
/// and `LEAKCHECK_ALLOW`:
///
/// - `allow = ["127.0.0.1:9050", "[::1]:9050", "10.0.0.0/8:443", "unix:/run/tor/socks"]`:
///   endpoints the test may reach (checked at compile time);
/// - `ip = false`: only unix sockets may be used at all;
/// - `<kind> = "allow" | "warn" | "deny"` for any leak kind (`connect`, `send`, `dns`,
///   `ip-socket`, `raw-socket`, `untraceable`, `interface-enumeration`, `listen`,
///   `route-probe`, `leftover-process`, `protocol-leak`, `proxy-ip-request`, `socks-no-auth`,
///   `shared-isolation`, `proxy-protocol-error`);
/// - `stand-in = true | "accept" | "refuse" | false`: the test runs with leakcheck's
///   stand-in proxy serving its allowed endpoints, in a network namespace of its own
///   (implied), and its streams are judged (`protocol-leak`, `socks-no-auth`, ...);
///   `false` runs it without one whatever the metadata's `stand-in` says.
///
/// It composes with `#[test]`, `#[tokio::test]` (above or below it), `#[rstest]` with
/// `#[case]`s, `#[serial]` and `#[test_log::test]`. It is a compile error on an
/// `async fn` without a runtime attribute and on a function with arguments outside
/// `#[rstest]`.
#[proc_macro_attribute]
pub fn leak_free(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr_tokens = TokenStream2::from(attr.clone());
    let args = match syn::parse::<Args>(attr) {
        Ok(args) => args,
        Err(e) => return with_error(item, e),
    };
    let func = match syn::parse::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            let e = syn::Error::new(
                e.span(),
                format!("#[leak_free] goes on a test function: {e}"),
            );
            return with_error(item, e);
        }
    };
    match expand(args, attr_tokens, func) {
        Ok(tokens) => tokens.into(),
        Err(e) => with_error(item, e),
    }
}

/// The item unchanged plus the error, so that one mistake does not cascade into many.
fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut out: TokenStream = error.to_compile_error().into();
    out.extend(item);
    out
}

/// The last segment of an attribute's path (`test` for `#[tokio::test]`).
fn last_segment(attr: &Attribute) -> String {
    attr.path()
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// The first segment of an attribute's path (`case` for `#[case::name(..)]`).
fn first_segment(attr: &Attribute) -> String {
    attr.path()
        .segments
        .first()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// Attributes that register a test (so that `#[test]` must not be added).
fn registers_test(last: &str) -> bool {
    matches!(last, "test" | "rstest" | "test_case")
}

/// Attributes that generate the test functions from a function with arguments.
fn is_parametrizer(last: &str) -> bool {
    matches!(last, "rstest" | "test_case")
}

/// serial_test's in-process locks: the parent must hold them while its traced child runs,
/// or the children of two `#[serial]` tests would overlap.
fn is_process_lock(last: &str) -> bool {
    matches!(last, "serial" | "parallel")
}

/// serial_test's file locks: held across processes, so only the child may take them (the
/// parent holding one would deadlock with its own child).
fn is_file_lock(last: &str) -> bool {
    matches!(last, "file_serial" | "file_parallel")
}

fn expand(args: Args, attr_tokens: TokenStream2, mut func: ItemFn) -> syn::Result<TokenStream2> {
    // Attributes that must be applied before us, so that our attribute moves below them
    // (re-invoked there with the same arguments):
    // - a file lock below us would wrap the parent too, which would then deadlock with its
    //   own child: below it, we wrap only the body (run by the child);
    // - rstest below us: below its last `#[case]`, rstest copies us onto every generated
    //   case together with the case's own attributes (`#[should_panic]` per case), so
    //   that each case is an ordinary test to us.
    let rstest = func.attrs.iter().position(|a| last_segment(a) == "rstest");
    let must_precede = func
        .attrs
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            let last = last_segment(a);
            is_file_lock(&last)
                || (rstest.is_some() && (first_segment(a) == "case" || last == "rstest"))
        })
        .map(|(i, _)| i)
        .max();
    if let Some(last) = must_precede {
        let ours: Attribute = syn::parse_quote!(#[::leakcheck::leak_free(#attr_tokens)]);
        func.attrs.insert(last + 1, ours);
        return Ok(func.to_token_stream());
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = func;

    let visible: Vec<String> = attrs.iter().map(last_segment).collect();
    let has_test_below = visible.iter().any(|a| registers_test(a));
    let has_parametrizer = visible.iter().any(|a| is_parametrizer(a));
    // An async runtime attribute: `#[tokio::test]`, `#[async_std::test]`,
    // `#[test_log::test(tokio::test)]`, or rstest (which drives async tests itself).
    let has_runtime = attrs.iter().any(|a| {
        let path = a.path();
        (path.segments.len() > 1 && last_segment(a) == "test") || is_parametrizer(&last_segment(a))
    });
    let should_panic = visible.iter().any(|a| a == "should_panic");

    if let Some(asyncness) = &sig.asyncness {
        if !has_runtime {
            return Err(syn::Error::new(
                asyncness.span(),
                "#[leak_free] on an `async fn` needs an async test runtime: add \
                 #[tokio::test] (above or below #[leak_free]), or remove `async`",
            ));
        }
    }
    if !sig.inputs.is_empty() && !has_parametrizer {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "#[leak_free] tests take no arguments: for parameterised tests add #[rstest] \
             (with #[case(...)]s or fixtures), or remove the arguments",
        ));
    }
    if !sig.generics.params.is_empty() && !has_parametrizer {
        return Err(syn::Error::new(
            sig.generics.span(),
            "#[leak_free] tests cannot be generic: remove the generic parameters",
        ));
    }
    let ret_ty: TokenStream2 = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            if let Type::ImplTrait(_) = **ty {
                return Err(syn::Error::new(
                    ty.span(),
                    "#[leak_free] needs a concrete return type: `()` or `Result<(), E>`",
                ));
            }
            ty.to_token_stream()
        }
    };

    // `#[test]` is added only when no attribute registers the test: neither one below
    // (visible here) nor one above (already expanded, so read from the source).
    let above = source_scan::attributes_above_call_site().unwrap_or_default();
    let has_test_above = above.iter().any(|a| registers_test(a.last_segment()));
    // `#[serial]` above us has wrapped only the body, which the child runs: wrap the
    // parent in the same lock (serial_test's locks are reentrant, so the child taking it
    // twice is harmless).
    let mut process_locks = Vec::new();
    for attr in above
        .iter()
        .rev()
        .filter(|a| is_process_lock(a.last_segment()))
    {
        let tokens: TokenStream2 = attr.text.parse().map_err(|_| {
            syn::Error::new(
                proc_macro2::Span::call_site(),
                format!(
                    "#[leak_free]: cannot re-read the attribute `#[{}]` above it",
                    attr.text
                ),
            )
        })?;
        process_locks.push(quote!(#[#tokens]));
    }
    let test_attr = if has_test_below || has_test_above {
        quote!()
    } else {
        quote!(#[::core::prelude::v1::test])
    };

    let (outer, inner): (Vec<Attribute>, Vec<Attribute>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Outer));
    // Inner attributes (`#![allow(..)]` in the body) become outer ones, as syn and
    // tokio do, since the body moves into a closure.
    let inner = inner.into_iter().map(|mut a| {
        a.style = AttrStyle::Outer;
        a
    });

    let name = sig.ident.to_string();
    let allow = &args.allow;
    let ip = match args.ip {
        Some(ip) => quote!(::core::option::Option::Some(#ip)),
        None => quote!(::core::option::Option::None),
    };
    let severity_pairs = args.severities.iter().map(|(k, v)| quote!((#k, #v)));
    let stand_in = match &args.stand_in {
        Some(mode) => quote!(::core::option::Option::Some(#mode)),
        None => quote!(::core::option::Option::None),
    };
    let spec = quote! {
        static __LEAKCHECK_LEAK_FREE: ::leakcheck::leak_free::Spec = ::leakcheck::leak_free::Spec {
            module_path: ::core::module_path!(),
            fn_name: #name,
            manifest_dir: ::core::option_env!("CARGO_MANIFEST_DIR"),
            package: ::core::option_env!("CARGO_PKG_NAME"),
            allow: &[#(#allow),*],
            ip: #ip,
            severities: &[#(#severity_pairs),*],
            stand_in: #stand_in,
            should_panic: #should_panic,
        };
    };
    let stmts = &block.stmts;
    let span = block.brace_token.span.join();
    let call = if sig.asyncness.is_some() {
        quote_spanned! {span=>
            ::leakcheck::leak_free::run_async::<#ret_ty, _>(
                &__LEAKCHECK_LEAK_FREE,
                async move { #(#stmts)* },
            ).await
        }
    } else {
        quote_spanned! {span=>
            ::leakcheck::leak_free::run::<#ret_ty, _>(
                &__LEAKCHECK_LEAK_FREE,
                move || -> #ret_ty { #(#stmts)* },
            )
        }
    };
    Ok(quote! {
        #(#process_locks)*
        #(#outer)*
        #(#inner)*
        #test_attr
        #vis #sig {
            #spec
            #call
        }
    })
}
