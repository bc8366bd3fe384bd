//! The destination the stand-in plays after a successful CONNECT.
//!
//! For the protocols where the server speaks first (HoneyConnector's bait sessions:
//! SMTP, FTP, POP3, IMAP, chosen by the requested port) it greets and then answers each
//! command line with a plausible, minimal reply, so that a client goes on to send what it
//! would send a real server (EHLO with its host name, USER/PASS, LOGIN...). TLS upgrades
//! (STARTTLS, STLS, AUTH TLS) are declined, so that what follows stays readable. Other
//! ports get silence: the stand-in only listens.

/// A bait protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bait {
    /// Listen only.
    Silent,
    Smtp,
    Ftp,
    Pop3,
    Imap,
}

impl Bait {
    /// The bait for a requested port.
    pub(crate) fn for_port(port: u16) -> Bait {
        match port {
            25 | 465 | 587 => Bait::Smtp,
            21 => Bait::Ftp,
            110 => Bait::Pop3,
            143 => Bait::Imap,
            _ => Bait::Silent,
        }
    }
}

/// Longest command line kept; longer lines are answered as one line when they end.
const MAX_LINE: usize = 4096;

/// A line-based responder for one stream.
#[derive(Debug)]
pub(crate) struct Responder {
    bait: Bait,
    name: String,
    line: Vec<u8>,
    in_data: bool,
    done: bool,
}

impl Responder {
    pub(crate) fn new(bait: Bait, name: &str) -> Responder {
        Responder {
            bait,
            name: name.to_string(),
            line: Vec::new(),
            in_data: false,
            done: false,
        }
    }

    /// What the server says first, if anything.
    pub(crate) fn greeting(&self) -> Option<Vec<u8>> {
        let name = &self.name;
        let text = match self.bait {
            Bait::Silent => return None,
            Bait::Smtp => format!("220 {name} ESMTP ready\r\n"),
            Bait::Ftp => format!("220 {name} FTP server ready\r\n"),
            Bait::Pop3 => format!("+OK {name} POP3 server ready\r\n"),
            Bait::Imap => format!("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] {name} ready\r\n"),
        };
        Some(text.into_bytes())
    }

    /// True once the client said goodbye (QUIT, LOGOUT): the stream should end.
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    /// Feeds what the client sent; appends the answers to `out`.
    pub(crate) fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.bait == Bait::Silent {
            return;
        }
        for &b in bytes {
            if self.done {
                return;
            }
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.answer(&line, out);
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            }
        }
    }

    fn answer(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.in_data {
            if line == b"." {
                self.in_data = false;
                out.extend_from_slice(b"250 2.0.0 Ok: queued\r\n");
            }
            return;
        }
        let (tag, rest) = match self.bait {
            Bait::Imap => split_word(line),
            _ => (&b""[..], line),
        };
        let (verb, _) = split_word(rest);
        let verb = verb.to_ascii_uppercase();
        let name = self.name.clone();
        let reply: Vec<u8> = match self.bait {
            Bait::Silent => return,
            Bait::Smtp => match verb.as_slice() {
                b"EHLO" => format!("250-{name}\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n").into(),
                b"HELO" => format!("250 {name}\r\n").into(),
                b"STARTTLS" => b"454 4.7.0 TLS not available\r\n".to_vec(),
                b"DATA" => {
                    self.in_data = true;
                    b"354 End data with <CR><LF>.<CR><LF>\r\n".to_vec()
                }
                b"AUTH" => b"535 5.7.8 Authentication credentials invalid\r\n".to_vec(),
                b"QUIT" => {
                    self.done = true;
                    b"221 2.0.0 Bye\r\n".to_vec()
                }
                b"" => return,
                _ => b"250 2.0.0 Ok\r\n".to_vec(),
            },
            Bait::Ftp => match verb.as_slice() {
                b"USER" => b"331 Password required\r\n".to_vec(),
                b"PASS" => b"230 Logged in\r\n".to_vec(),
                b"SYST" => b"215 UNIX Type: L8\r\n".to_vec(),
                b"AUTH" => b"534 TLS not available\r\n".to_vec(),
                b"QUIT" => {
                    self.done = true;
                    b"221 Bye\r\n".to_vec()
                }
                b"" => return,
                _ => b"502 Command not implemented\r\n".to_vec(),
            },
            Bait::Pop3 => match verb.as_slice() {
                b"STLS" => b"-ERR TLS not available\r\n".to_vec(),
                b"CAPA" => b"+OK\r\nUSER\r\n.\r\n".to_vec(),
                b"QUIT" => {
                    self.done = true;
                    b"+OK Bye\r\n".to_vec()
                }
                b"" => return,
                _ => b"+OK\r\n".to_vec(),
            },
            Bait::Imap => {
                if tag.is_empty() {
                    return;
                }
                let tag = String::from_utf8_lossy(tag);
                match verb.as_slice() {
                    b"CAPABILITY" => {
                        format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n").into()
                    }
                    b"STARTTLS" => format!("{tag} NO TLS not available\r\n").into(),
                    b"LOGOUT" => {
                        self.done = true;
                        format!("* BYE\r\n{tag} OK done\r\n").into()
                    }
                    _ => format!("{tag} OK done\r\n").into(),
                }
            }
        };
        out.extend_from_slice(&reply);
    }
}

fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    let line = match line.iter().position(|&b| b != b' ') {
        Some(start) => &line[start..],
        None => return (&[], &[]),
    };
    match line.iter().position(|&b| b == b' ') {
        Some(end) => (&line[..end], &line[end + 1..]),
        None => (line, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_dialogue() {
        let mut r = Responder::new(Bait::for_port(25), "mx.test");
        assert_eq!(r.greeting().unwrap(), b"220 mx.test ESMTP ready\r\n");
        let mut out = Vec::new();
        r.feed(b"EHLO client\r\nMAIL FROM:<a@b>\r\nDA", &mut out);
        assert!(out.starts_with(b"250-mx.test\r\n"));
        assert!(out.ends_with(b"250 2.0.0 Ok\r\n"));
        out.clear();
        r.feed(b"TA\r\nhello\r\n.\r\nQUIT\r\n", &mut out);
        assert_eq!(
            out,
            b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n"
        );
        assert!(r.done());
    }

    #[test]
    fn other_baits() {
        let mut out = Vec::new();
        let mut r = Responder::new(Bait::for_port(143), "imap.test");
        assert!(r.greeting().unwrap().starts_with(b"* OK"));
        r.feed(b"a1 LOGIN user pass\r\na2 LOGOUT\r\n", &mut out);
        assert_eq!(out, b"a1 OK done\r\n* BYE\r\na2 OK done\r\n");
        assert!(r.done());

        let mut r = Responder::new(Bait::for_port(21), "ftp.test");
        assert!(r.greeting().unwrap().starts_with(b"220 "));
        out.clear();
        r.feed(b"USER x\r\nPASS y\r\n", &mut out);
        assert_eq!(out, b"331 Password required\r\n230 Logged in\r\n");

        let r = Responder::new(Bait::for_port(110), "pop.test");
        assert!(r.greeting().unwrap().starts_with(b"+OK"));

        let mut r = Responder::new(Bait::for_port(443), "x");
        assert_eq!(r.greeting(), None);
        out.clear();
        r.feed(b"GET / HTTP/1.1\r\n\r\n", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn overlong_lines_are_bounded() {
        let mut r = Responder::new(Bait::Smtp, "x");
        let mut out = Vec::new();
        r.feed(&vec![b'A'; 1 << 20], &mut out);
        assert!(r.line.len() <= MAX_LINE);
        r.feed(b"\r\n", &mut out);
        assert_eq!(out, b"250 2.0.0 Ok\r\n");
    }
}
