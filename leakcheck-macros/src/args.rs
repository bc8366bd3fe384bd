//! The arguments of `#[leak_free(...)]`: `allow = [...]`, `ip = bool`, `<kind> = "severity"`,
//! `stand-in = true | false | "accept" | "refuse"`.

use leakcheck_core::{Endpoint, KIND_NAMES, SEVERITY_NAMES, STAND_IN_MODES};
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Lit, LitBool, LitStr, Token};

/// What the attribute says, checked.
#[derive(Default)]
pub struct Args {
    /// `allow = [...]`: the endpoints, as written.
    pub allow: Vec<String>,
    /// `ip = true|false`.
    pub ip: Option<bool>,
    /// `<kind> = "allow"|"warn"|"deny"`, kind names normalised to kebab-case.
    pub severities: Vec<(String, String)>,
    /// `stand-in = ...`: `"accept"` (also `true`), `"refuse"`, or `"off"` (`false`: no
    /// stand-in for this test, whatever the metadata says).
    pub stand_in: Option<String>,
}

fn expected_keys() -> String {
    let kinds: Vec<String> = KIND_NAMES.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "expected `allow = [\"127.0.0.1:9050\", ...]`, `ip = true|false`, \
         `stand-in = true|false|\"accept\"|\"refuse\"`, or a leak kind set to \"allow\", \
         \"warn\" or \"deny\" ({})",
        kinds.join(", ")
    )
}

/// A key: `ident` or `ident-ident-...`; underscores read as hyphens (`ip_socket`).
fn parse_key(input: ParseStream) -> syn::Result<(String, Span)> {
    let first: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
    let span = first.span();
    let mut key = first.to_string();
    while input.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        let next: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
        key.push('-');
        key.push_str(&next.to_string());
    }
    Ok((key.replace('_', "-"), span))
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let (key, span) = parse_key(input).map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("bad #[leak_free] argument: {}", expected_keys()),
                )
            })?;
            if seen.contains(&key) {
                return Err(syn::Error::new(
                    span,
                    format!("`{key}` is given twice in #[leak_free(...)]"),
                ));
            }
            seen.push(key.clone());
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`{key}` needs a value: write `{key} = ...` ({})",
                        expected_keys()
                    ),
                ));
            }
            input.parse::<Token![=]>()?;
            match key.as_str() {
                "allow" => {
                    let content;
                    syn::bracketed!(content in input);
                    let list = content.parse_terminated(<LitStr as Parse>::parse, Token![,])?;
                    for lit in list {
                        let value = lit.value();
                        // The grammar of the run-time policy, so that what compiles is
                        // what the traced run accepts.
                        if let Err(why) = Endpoint::parse(&value) {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!(
                                    "bad endpoint {value:?} in #[leak_free(allow = [...])]: {why}"
                                ),
                            ));
                        }
                        args.allow.push(value);
                    }
                }
                "ip" => {
                    let lit: LitBool = input.parse().map_err(|e| {
                        syn::Error::new(e.span(), "expected `ip = true` or `ip = false`")
                    })?;
                    args.ip = Some(lit.value);
                }
                "stand-in" => {
                    let expected = "expected `stand-in = true` (the stand-in proxy plays every \
                                    destination), `stand-in = \"refuse\"` (it answers as Tor \
                                    does when it cannot reach one) or `stand-in = false`";
                    let lit: Lit = input
                        .parse()
                        .map_err(|e| syn::Error::new(e.span(), expected))?;
                    let mode = match &lit {
                        Lit::Bool(b) if b.value => "accept".to_string(),
                        Lit::Bool(_) => "off".to_string(),
                        Lit::Str(s) if STAND_IN_MODES.contains(&s.value().as_str()) => s.value(),
                        Lit::Str(s) => {
                            return Err(syn::Error::new(
                                s.span(),
                                format!("unknown stand-in mode {:?}: {expected}", s.value()),
                            ))
                        }
                        other => return Err(syn::Error::new(other.span(), expected)),
                    };
                    args.stand_in = Some(mode);
                }
                kind if KIND_NAMES.contains(&kind) => {
                    let lit: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            format!("expected `{kind} = \"allow\"`, `\"warn\"` or `\"deny\"`"),
                        )
                    })?;
                    let severity = lit.value();
                    if !SEVERITY_NAMES.contains(&severity.as_str()) {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!(
                                "unknown severity {severity:?} for `{kind}`: expected \"allow\", \"warn\" or \"deny\""
                            ),
                        ));
                    }
                    args.severities.push((kind.to_string(), severity));
                }
                other => {
                    return Err(syn::Error::new(
                        span,
                        format!(
                            "unknown #[leak_free] argument `{other}`: {}",
                            expected_keys()
                        ),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}
