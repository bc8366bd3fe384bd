//! Lookups handed to a local resolver daemon: glibc's nscd requests and
//! systemd-resolved's varlink calls (what nss-resolve sends).

use super::dns::type_name;
use super::Question;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// nscd's request types (glibc's `nscd-client.h`) that name a host.
const GETHOSTBYNAME: i32 = 4;
const GETHOSTBYNAMEV6: i32 = 5;
const GETHOSTBYADDR: i32 = 6;
const GETHOSTBYADDRV6: i32 = 7;
const GETAI: i32 = 14;
/// `request_header`: version, type and key length, three `int32_t`; the key follows.
const NSCD_HEADER: usize = 12;

/// The request type of an nscd request (its second header field), if the header was read.
pub(crate) fn nscd_request_type(request: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(request.get(4..8)?.try_into().ok()?))
}

/// What an nscd hosts request asks for: its key, a host name (or an address for the
/// reverse requests). None for the other requests (GETFDHST's key is the word `hosts`)
/// and for a key that was not read.
pub(crate) fn nscd_question(request: &[u8]) -> Option<Question> {
    let kind = nscd_request_type(request)?;
    let key_len = i32::from_ne_bytes(request.get(8..12)?.try_into().ok()?);
    let key_len = usize::try_from(key_len).ok()?;
    let key = request.get(NSCD_HEADER..NSCD_HEADER.checked_add(key_len)?)?;
    let key = key.strip_suffix(&[0]).unwrap_or(key);
    let text = || -> Option<String> {
        let name = std::str::from_utf8(key).ok()?;
        (!name.is_empty() && !name.contains('\0')).then(|| name.to_ascii_lowercase())
    };
    match kind {
        GETHOSTBYNAME => Some(Question::new(text()?, "A")),
        GETHOSTBYNAMEV6 => Some(Question::new(text()?, "AAAA")),
        GETAI => Some(Question::new(text()?, "A, AAAA")),
        GETHOSTBYADDR => {
            let octets: [u8; 4] = key.try_into().ok()?;
            Some(Question::new(Ipv4Addr::from(octets).to_string(), "PTR"))
        }
        GETHOSTBYADDRV6 => {
            let octets: [u8; 16] = key.try_into().ok()?;
            Some(Question::new(Ipv6Addr::from(octets).to_string(), "PTR"))
        }
        _ => None,
    }
}

/// What a varlink call to systemd-resolved asks for: `ResolveHostname`'s name (with the
/// family's types), `ResolveRecord`'s name and type, `ResolveAddress`'s address. The call
/// is the JSON object before the first NUL; one that was cut short gives nothing.
pub(crate) fn varlink_question(message: &[u8]) -> Option<Question> {
    let end = message
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(message.len());
    let call: serde_json::Value = serde_json::from_slice(&message[..end]).ok()?;
    let method = call.get("method")?.as_str()?;
    let params = call.get("parameters")?;
    let name = || -> Option<String> { Some(params.get("name")?.as_str()?.to_ascii_lowercase()) };
    let family = params.get("family").and_then(serde_json::Value::as_i64);
    match method.strip_prefix("io.systemd.Resolve.")? {
        "ResolveHostname" => {
            let types = match family.and_then(|f| i32::try_from(f).ok()) {
                Some(libc::AF_INET) => "A",
                Some(libc::AF_INET6) => "AAAA",
                _ => "A, AAAA",
            };
            Some(Question::new(name()?, types))
        }
        "ResolveRecord" => {
            let rtype = params.get("type")?.as_u64()?;
            Some(Question::new(
                name()?,
                type_name(u16::try_from(rtype).ok()?),
            ))
        }
        "ResolveAddress" => {
            let bytes: Vec<u8> = params
                .get("address")?
                .as_array()?
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<_>>()?;
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
                16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
                _ => return None,
            };
            Some(Question::new(ip.to_string(), "PTR"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nscd(kind: i32, key: &[u8]) -> Vec<u8> {
        let mut req = Vec::new();
        req.extend_from_slice(&2i32.to_ne_bytes());
        req.extend_from_slice(&kind.to_ne_bytes());
        req.extend_from_slice(&(key.len() as i32).to_ne_bytes());
        req.extend_from_slice(key);
        req
    }

    #[test]
    fn nscd_host_requests_give_their_key() {
        let q = nscd_question(&nscd(GETAI, b"Example.com\0")).unwrap();
        assert_eq!(
            (q.name.as_str(), q.rtype.as_str()),
            ("example.com", "A, AAAA")
        );
        let q = nscd_question(&nscd(GETHOSTBYNAME, b"a.org\0")).unwrap();
        assert_eq!((q.name.as_str(), q.rtype.as_str()), ("a.org", "A"));
        assert_eq!(
            nscd_question(&nscd(GETHOSTBYNAMEV6, b"a.org\0"))
                .unwrap()
                .rtype,
            "AAAA"
        );
        let q = nscd_question(&nscd(GETHOSTBYADDR, &[192, 0, 2, 1])).unwrap();
        assert_eq!((q.name.as_str(), q.rtype.as_str()), ("192.0.2.1", "PTR"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(
            nscd_question(&nscd(GETHOSTBYADDRV6, &v6)).unwrap().name,
            "::1"
        );
    }

    #[test]
    fn other_nscd_requests_and_broken_ones_give_nothing() {
        // GETFDHST: the word `hosts`, no name.
        assert_eq!(nscd_question(&nscd(13, b"hosts\0")), None);
        assert_eq!(nscd_request_type(&nscd(13, b"hosts\0")), Some(13));
        // Cut short, a bogus length, a negative one, an empty key, a short address.
        let whole = nscd(GETAI, b"example.com\0");
        for cut in 0..whole.len() {
            assert_eq!(nscd_question(&whole[..cut]), None, "cut at {cut}");
        }
        let mut huge = nscd(GETAI, b"x\0");
        huge[8..12].copy_from_slice(&i32::MAX.to_ne_bytes());
        assert_eq!(nscd_question(&huge), None);
        let mut negative = nscd(GETAI, b"x\0");
        negative[8..12].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(nscd_question(&negative), None);
        assert_eq!(nscd_question(&nscd(GETAI, b"\0")), None);
        assert_eq!(nscd_question(&nscd(GETHOSTBYADDR, &[1, 2, 3])), None);
        assert_eq!(nscd_question(&nscd(GETAI, &[0xff, 0xfe, 0])), None);
    }

    #[test]
    fn varlink_calls_give_their_name() {
        let call = |json: &str| varlink_question(format!("{json}\0").as_bytes());
        let q = call(r#"{"method":"io.systemd.Resolve.ResolveHostname","parameters":{"name":"Example.com","flags":0}}"#).unwrap();
        assert_eq!(
            (q.name.as_str(), q.rtype.as_str()),
            ("example.com", "A, AAAA")
        );
        let q = call(r#"{"method":"io.systemd.Resolve.ResolveHostname","parameters":{"name":"a.org","family":10}}"#).unwrap();
        assert_eq!(q.rtype, "AAAA");
        let q = call(r#"{"method":"io.systemd.Resolve.ResolveRecord","parameters":{"name":"a.org","type":16}}"#).unwrap();
        assert_eq!(q.rtype, "TXT");
        let q = call(r#"{"method":"io.systemd.Resolve.ResolveAddress","parameters":{"family":2,"address":[192,0,2,1]}}"#).unwrap();
        assert_eq!((q.name.as_str(), q.rtype.as_str()), ("192.0.2.1", "PTR"));
    }

    #[test]
    fn other_varlink_calls_and_broken_ones_give_nothing() {
        let whole = br#"{"method":"io.systemd.Resolve.ResolveHostname","parameters":{"name":"example.com"}}"#;
        for cut in 0..whole.len() {
            assert_eq!(varlink_question(&whole[..cut]), None, "cut at {cut}");
        }
        assert!(varlink_question(whole).is_some());
        for bad in [
            &br#"{"method":"org.varlink.service.GetInfo","parameters":{}}"#[..],
            br#"{"method":"io.systemd.Resolve.ResolveHostname","parameters":{"name":7}}"#,
            br#"{"method":"io.systemd.Resolve.ResolveAddress","parameters":{"address":[1,2,300,4]}}"#,
            br#"{"method":"io.systemd.Resolve.ResolveRecord","parameters":{"name":"a","type":70000}}"#,
            br#"[1,2,3]"#,
            b"\xff\xfe",
        ] {
            assert_eq!(varlink_question(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
