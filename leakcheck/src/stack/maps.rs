//! `/proc/PID/maps`: which file is mapped where, to tell a code address's module and its
//! offset in that file.

use std::io;

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Mapped executable (`x` in the permissions).
    pub exec: bool,
    /// The offset in the file of `start`.
    pub offset: u64,
    /// The file's path; None for anonymous memory, `[stack]`, `[vdso]`, and a file that
    /// was deleted or replaced since it was mapped (its path names another file now).
    pub path: Option<String>,
}

impl Mapping {
    /// The offset in the file of `address`, which lies in this mapping.
    pub fn file_offset(&self, address: u64) -> u64 {
        address - self.start + self.offset
    }
}

/// Parses the text of `/proc/PID/maps`; lines it cannot read are left out.
pub fn parse(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

/// Reads the mappings of process (or thread) `pid`.
pub fn read(pid: u32) -> io::Result<Vec<Mapping>> {
    Ok(parse(&std::fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

/// `START-END PERMS OFFSET DEV INODE   PATH`: the path is the rest of the line, and may
/// hold spaces.
fn parse_line(line: &str) -> Option<Mapping> {
    let mut rest = line;
    let mut field = || {
        let trimmed = rest.trim_start_matches(' ');
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        let (value, tail) = trimmed.split_at(end);
        rest = tail;
        (!value.is_empty()).then_some(value)
    };
    let range = field()?;
    let perms = field()?;
    let offset = field()?;
    let _dev = field()?;
    let inode = field()?;
    let (start, end) = range.split_once('-')?;
    let path = rest.trim_start_matches(' ');
    // The kernel marks a file removed (or replaced, as a rebuild does) since it was
    // mapped: the path no longer names what is mapped.
    let path = (path.starts_with('/') && !path.ends_with(" (deleted)") && inode != "0")
        .then(|| path.to_string());
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        exec: perms.as_bytes().get(2) == Some(&b'x'),
        offset: u64::from_str_radix(offset, 16).ok()?,
        path,
    })
}

/// The file-backed mapping that holds `address`.
pub fn find(maps: &[Mapping], address: u64) -> Option<&Mapping> {
    maps.iter()
        .find(|m| m.start <= address && address < m.end && m.path.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d6c3a00000-55d6c3a16000 r--p 00000000 08:01 1234                       /work/target/debug/deps/demo-0123
55d6c3a16000-55d6c3a59000 r-xp 00015000 08:01 1234                       /work/target/debug/deps/demo-0123
7f1e2c028000-7f1e2c1bd000 r-xp 00028000 08:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2c300000-7f1e2c301000 r-xp 00000000 08:01 999                        /tmp/a dir/with spaces.so
7f1e2c400000-7f1e2c401000 r-xp 00000000 08:01 998                        /tmp/rebuilt (deleted)
7f1e2c500000-7f1e2c521000 rw-p 00000000 00:00 0                          [heap]
7ffd4b3a1000-7ffd4b3a3000 r-xp 00000000 00:00 0                          [vdso]
7f1e2c600000-7f1e2c601000 rw-p 00000000 00:00 0 
";

    #[test]
    fn reads_ranges_permissions_offsets_and_paths() {
        let maps = parse(MAPS);
        assert_eq!(maps.len(), 8, "{maps:#?}");
        assert_eq!(
            maps[1],
            Mapping {
                start: 0x55d6c3a16000,
                end: 0x55d6c3a59000,
                exec: true,
                offset: 0x15000,
                path: Some("/work/target/debug/deps/demo-0123".to_string()),
            }
        );
        assert!(!maps[0].exec);
        assert_eq!(maps[3].path.as_deref(), Some("/tmp/a dir/with spaces.so"));
    }

    #[test]
    fn deleted_files_and_pseudo_mappings_have_no_path() {
        let maps = parse(MAPS);
        for m in &maps[4..] {
            assert_eq!(m.path, None, "{m:?}");
        }
        assert!(maps[6].exec, "the vDSO is code without a file");
    }

    #[test]
    fn an_address_is_found_in_its_file_mapping_with_its_file_offset() {
        let maps = parse(MAPS);
        let m = find(&maps, 0x55d6c3a17234).expect("mapped");
        assert_eq!(m.file_offset(0x55d6c3a17234), 0x16234);
        assert!(
            find(&maps, 0x7ffd4b3a1100).is_none(),
            "the vDSO has no file"
        );
        assert!(find(&maps, 0x10).is_none());
    }

    #[test]
    fn garbage_lines_are_left_out() {
        assert!(parse("not a mapping\n\n55d6-zz r-xp 0 0 0 /x\n").is_empty());
    }
}
