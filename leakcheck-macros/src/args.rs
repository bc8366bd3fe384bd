//! The arguments of `#[leak_free(...)]`: `allow = [...]`, `ip = bool`, `<kind> = "severity"`.

use proc_macro2::Span;
use std::net::{Ipv4Addr, Ipv6Addr};
use syn::parse::{Parse, ParseStream};
use syn::{LitBool, LitStr, Token};

/// The leak kinds of DESIGN.md's table (`leakcheck::Kind::as_str`). The macro crate cannot
/// depend on `leakcheck` (which re-exports it), so the names are repeated here; a test in
/// `leakcheck` keeps the two lists equal.
pub const KINDS: [&str; 10] = [
    "connect",
    "send",
    "dns",
    "ip-socket",
    "raw-socket",
    "untraceable",
    "interface-enumeration",
    "listen",
    "route-probe",
    "leftover-process",
];

const SEVERITIES: [&str; 3] = ["allow", "warn", "deny"];

/// What the attribute says, checked.
#[derive(Default)]
pub struct Args {
    /// `allow = [...]`: the endpoints, as written.
    pub allow: Vec<String>,
    /// `ip = true|false`.
    pub ip: Option<bool>,
    /// `<kind> = "allow"|"warn"|"deny"`, kind names normalised to kebab-case.
    pub severities: Vec<(String, String)>,
}

fn expected_keys() -> String {
    let kinds: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "expected `allow = [\"127.0.0.1:9050\", ...]`, `ip = true|false`, or a leak kind \
         set to \"allow\", \"warn\" or \"deny\" ({})",
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
                        if let Err(why) = check_endpoint(&value) {
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
                kind if KINDS.contains(&kind) => {
                    let lit: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            format!("expected `{kind} = \"allow\"`, `\"warn\"` or `\"deny\"`"),
                        )
                    })?;
                    let severity = lit.value();
                    if !SEVERITIES.contains(&severity.as_str()) {
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

/// Checks an endpoint against DESIGN.md's grammar: `IPV4:PORT`, `[IPV6]:PORT`,
/// `CIDR:PORT`, `[CIDR6]:PORT`, `unix:PATH`, `unix:@NAME`; PORT is `N`, `N-M` or `*`.
pub fn check_endpoint(text: &str) -> Result<(), String> {
    const GRAMMAR: &str = "expected IPV4:PORT, [IPV6]:PORT, CIDR:PORT, [CIDR6]:PORT, unix:PATH or unix:@NAME, where PORT is a number, a range N-M or *";
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() || path == "@" {
            return Err(format!("empty unix socket path; {GRAMMAR}"));
        }
        return Ok(());
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("contains whitespace; {GRAMMAR}"));
    }
    let (host, port, v6) = if let Some(rest) = text.strip_prefix('[') {
        let Some((host, port)) = rest.split_once("]:") else {
            return Err(format!("missing `]:PORT`; {GRAMMAR}"));
        };
        (host, port, true)
    } else {
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(format!("missing `:PORT`; {GRAMMAR}"));
        };
        (host, port, false)
    };
    check_host(host, v6).map_err(|why| format!("{why}; {GRAMMAR}"))?;
    check_port(port).map_err(|why| format!("{why}; {GRAMMAR}"))
}

fn check_host(host: &str, v6: bool) -> Result<(), String> {
    let (addr, prefix) = match host.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (host, None),
    };
    let max = if v6 {
        addr.parse::<Ipv6Addr>()
            .map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
        128
    } else {
        addr.parse::<Ipv4Addr>().map_err(|_| {
            if addr.contains(':') {
                format!("`{addr}` looks like an IPv6 address: write it in brackets, [{addr}]:PORT")
            } else {
                format!("`{addr}` is not an IPv4 address (host names are not allowed)")
            }
        })?;
        32
    };
    if let Some(prefix) = prefix {
        match prefix.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(format!("bad prefix length `/{prefix}` (0 to {max})")),
        }
    }
    Ok(())
}

fn check_port(port: &str) -> Result<(), String> {
    if port == "*" {
        return Ok(());
    }
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad port `{port}`"));
        }
        s.parse::<u16>()
            .map_err(|_| format!("port `{s}` is out of range (0 to 65535)"))
    };
    match port.split_once('-') {
        Some((low, high)) => {
            let (low, high) = (number(low)?, number(high)?);
            if low > high {
                return Err(format!("empty port range `{port}`"));
            }
            Ok(())
        }
        None => number(port).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for good in [
            "127.0.0.1:9050",
            "[::1]:9050",
            "127.0.0.1:9150-9159",
            "10.0.0.0/8:443",
            "[fd00::/8]:*",
            "0.0.0.0/0:*",
            "unix:/run/tor/socks",
            "unix:@abstract",
            "unix:/tmp/*.sock",
        ] {
            assert_eq!(check_endpoint(good), Ok(()), "{good}");
        }
        for bad in [
            "localhost:9050",
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:20-10",
            "::1:9050",
            "[::1]9050",
            "10.0.0.0/33:1",
            "unix:",
            "1.2.3.4:x",
            " 1.2.3.4:1",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }
}
