//! The question section of a DNS query (RFC 1035 4.1), as a client sends it over UDP,
//! or over TCP with its two-byte length in front.
//!
//! Only the header and the questions are read: the tracer reads the first bytes of a
//! send, so the sections after the questions (an EDNS record) may be cut, and a parser
//! of whole messages would refuse what is there. Names are read with every bound
//! checked; a compression pointer must point backwards (a query has no reason to use one
//! at all), so that pointer loops end.

use super::Question;

/// The DNS header's length.
const HEADER: usize = 12;
/// Questions read from one message (a query has one; a few resolvers send two).
const MAX_QUESTIONS: usize = 4;
/// A name's wire length at most (RFC 1035 3.1).
const MAX_NAME: usize = 255;

/// The questions of a DNS query in `msg` (a UDP datagram's payload): empty when it is
/// no query (a response, another opcode) or cannot be read.
pub(crate) fn questions(msg: &[u8]) -> Vec<Question> {
    let Some(header) = msg.get(..HEADER) else {
        return Vec::new();
    };
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let count = usize::from(u16::from_be_bytes([header[4], header[5]]));
    if is_response || opcode != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = HEADER;
    for _ in 0..count.min(MAX_QUESTIONS) {
        let Some((name, next)) = name(msg, at) else {
            break;
        };
        let Some(fixed) = msg.get(next..next + 4) else {
            break;
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        out.push(Question::new(name, type_name(rtype)));
        at = next + 4;
    }
    out
}

/// The questions of a DNS query sent over TCP (or TLS-less DNS over a stream socket):
/// the message follows its two-byte length.
pub(crate) fn stream_questions(bytes: &[u8]) -> Vec<Question> {
    match bytes.get(2..) {
        Some(msg) if bytes.len() >= 2 => questions(msg),
        _ => Vec::new(),
    }
}

/// The name at `at`: its presentation form and where what follows it starts (after the
/// first compression pointer, or after the root label).
fn name(msg: &[u8], at: usize) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut pos = at;
    let mut end = None;
    let mut wire = 0usize;
    // A pointer must go strictly backwards, below every label read so far: a loop
    // cannot last.
    let mut floor = at;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = end.unwrap_or(pos + 1);
                if text.is_empty() {
                    text.push('.');
                }
                return Some((text, end));
            }
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
                wire += 1 + label.len();
                if wire > MAX_NAME {
                    return None;
                }
                if !text.is_empty() {
                    text.push('.');
                }
                push_label(&mut text, label);
                pos += 1 + label.len();
            }
            0xc0 => {
                let low = *msg.get(pos + 1)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                end.get_or_insert(pos + 2);
                if target >= floor {
                    return None;
                }
                floor = target;
                pos = target;
            }
            // 0x40 and 0x80: extended label types (RFC 6891 retired them).
            _ => return None,
        }
    }
}

/// A label in presentation form: letters lowered (names are case-insensitive, and some
/// resolvers randomise the case), dots and bytes that do not print as `\DDD`.
fn push_label(text: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                text.push('\\');
                text.push(b as char);
            }
            0x21..=0x7e => text.push(b.to_ascii_lowercase() as char),
            _ => text.push_str(&format!("\\{b:03}")),
        }
    }
}

/// A record type's mnemonic (the ones clients ask for), else `TYPEn` (RFC 3597).
pub(crate) fn type_name(rtype: u16) -> String {
    let name = match rtype {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        43 => "DS",
        48 => "DNSKEY",
        52 => "TLSA",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        257 => "CAA",
        n => return format!("TYPE{n}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` of type `rtype`, as a stub resolver writes it.
    fn query(names: &[(&str, u16)]) -> Vec<u8> {
        let mut msg = vec![
            0x12,
            0x34,
            0x01,
            0x00,
            0,
            names.len() as u8,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        for (name, rtype) in names {
            for label in name.split('.').filter(|l| !l.is_empty()) {
                msg.push(label.len() as u8);
                msg.extend_from_slice(label.as_bytes());
            }
            msg.push(0);
            msg.extend_from_slice(&rtype.to_be_bytes());
            msg.extend_from_slice(&[0, 1]);
        }
        msg
    }

    fn shown(qs: &[Question]) -> Vec<(String, String)> {
        qs.iter()
            .map(|q| (q.name.clone(), q.rtype.clone()))
            .collect()
    }

    #[test]
    fn a_query_gives_its_name_and_type() {
        let qs = questions(&query(&[("Example.COM", 1)]));
        assert_eq!(shown(&qs), [("example.com".into(), "A".into())]);
        let qs = questions(&query(&[("a.b", 28), ("c.d", 65), (".", 2)]));
        assert_eq!(
            shown(&qs),
            [
                ("a.b".into(), "AAAA".into()),
                ("c.d".into(), "HTTPS".into()),
                (".".into(), "NS".into())
            ]
        );
        assert_eq!(questions(&query(&[("x.y", 4242)]))[0].rtype, "TYPE4242");
        // glibc's query as strace showed it, EDNS record and all.
        let mut edns = query(&[("example.com", 1)]);
        edns[11] = 1;
        edns.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(questions(&edns).len(), 1);
    }

    #[test]
    fn over_tcp_the_length_comes_first() {
        let msg = query(&[("example.com", 1)]);
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        assert_eq!(stream_questions(&framed)[0].name, "example.com");
        assert!(stream_questions(&[0]).is_empty());
        assert!(stream_questions(&[]).is_empty());
    }

    #[test]
    fn cut_messages_give_what_was_read_whole() {
        let msg = query(&[("example.com", 1), ("example.org", 28)]);
        for cut in 0..msg.len() {
            let qs = questions(&msg[..cut]);
            // The first question is whole 29 bytes in; the second at 46.
            let want = usize::from(cut >= 29) + usize::from(cut >= 46);
            assert_eq!(qs.len(), want, "cut at {cut}");
        }
    }

    #[test]
    fn responses_and_other_opcodes_are_no_queries() {
        let mut msg = query(&[("example.com", 1)]);
        msg[2] |= 0x80;
        assert!(questions(&msg).is_empty());
        let mut msg = query(&[("example.com", 1)]);
        msg[2] = 0x28; // UPDATE
        assert!(questions(&msg).is_empty());
    }

    #[test]
    fn compression_pointers_are_followed_backwards_only() {
        // Second question: `www` + pointer to the first name (offset 12).
        let mut msg = query(&[("example.com", 1)]);
        msg[5] = 2;
        msg.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 12, 0, 28, 0, 1]);
        let qs = questions(&msg);
        assert_eq!(qs[1].name, "www.example.com");
        assert_eq!(qs[1].rtype, "AAAA");
        // A pointer to itself, forwards, and a two-pointer loop: no name.
        let mut own = query(&[]);
        own[5] = 1;
        own.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(questions(&own).is_empty());
        let mut forward = query(&[]);
        forward[5] = 1;
        forward.extend_from_slice(&[0xc0, 14, 0, 0, 1, 0, 1]);
        assert!(questions(&forward).is_empty());
        let mut lp = query(&[]);
        lp[5] = 1;
        lp.extend_from_slice(&[1, b'a', 0xc0, 16, 0xc0, 12, 0, 1, 0, 1]);
        assert!(questions(&lp).is_empty());
        // Reserved label types.
        let mut ext = query(&[]);
        ext[5] = 1;
        ext.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
        assert!(questions(&ext).is_empty());
    }

    #[test]
    fn odd_bytes_are_escaped_and_long_names_refused() {
        let mut msg = query(&[]);
        msg[5] = 1;
        msg.extend_from_slice(&[3, b'a', b'.', 0xff, 0, 0, 1, 0, 1]);
        assert_eq!(questions(&msg)[0].name, "a\\.\\255");
        let long = vec!["a".repeat(63); 5].join(".");
        assert!(questions(&query(&[(&long, 1)])).is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        // A small deterministic generator: every length, many byte patterns.
        let mut seed = 0x9e37_79b9_u32;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let _ = questions(&bytes);
            let _ = stream_questions(&bytes);
            let mut header = query(&[]);
            header[5] = 4;
            header.extend_from_slice(&bytes);
            let _ = questions(&header);
        }
    }
}
