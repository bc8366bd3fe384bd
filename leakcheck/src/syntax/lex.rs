//! strace's text structures: C string literals, nested braces and brackets, and
//! `key=value` fields.

/// Finds the index of the `)` that closes the `(` at `open`, skipping strings and nesting.
pub(super) fn matching_close(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i)?,
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (bytes[i] == b')').then_some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Given the index of an opening quote, returns the index of the closing one.
pub(super) fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Splits on `sep` outside strings, braces, brackets and parentheses; trims each part.
pub(super) fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => match skip_string(bytes, i) {
                Some(end) => i = end,
                None => break,
            },
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth -= 1,
            b if depth == 0 && b == sep as u8 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    parts
}

/// The fields of `{a=1, b={...}, f(x)}`; None when the text is not a structure.
pub(super) fn struct_fields(text: &str) -> Option<Vec<&str>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    Some(split_top_level(inner, ','))
}

/// The value of `key=value` among structure fields.
pub(super) fn field<'a>(fields: &[&'a str], key: &str) -> Option<&'a str> {
    fields.iter().find_map(|f| {
        f.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::trim)
    })
}

/// Decodes the first quoted string in `text` (C escapes undone). None when there is none.
pub fn parse_string(text: &str) -> Option<Vec<u8>> {
    let start = text.find('"')?;
    let bytes = text.as_bytes();
    let end = skip_string(bytes, start)?;
    Some(unescape(&bytes[start + 1..end]))
}

pub(super) fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 >= raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let c = raw[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'v' => 0x0b_u8.into(),
            b'f' => 0x0c_u8.into(),
            b'a' => 0x07_u8.into(),
            b'b' => 0x08_u8.into(),
            b'e' => 0x1b_u8.into(),
            b'\\' | b'"' | b'\'' => Some(c),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
        } else if c == b'x' {
            let hex: Vec<u8> = raw[i..]
                .iter()
                .take(2)
                .take_while(|b| b.is_ascii_hexdigit())
                .copied()
                .collect();
            let value = std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(value.unwrap_or(b'x'));
            i += hex.len();
        } else if (b'0'..=b'7').contains(&c) {
            let mut value = u32::from(c - b'0');
            let mut taken = 0;
            while taken < 2 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                value = value * 8 + u32::from(raw[i] - b'0');
                i += 1;
                taken += 1;
            }
            out.push(value as u8);
        } else {
            out.push(c);
        }
    }
    out
}
