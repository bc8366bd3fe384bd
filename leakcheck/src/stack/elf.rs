//! What the unwinder and the symbolizer need of a mapped binary: its loadable segments
//! (to turn a file offset into an address of the binary) and its unwind tables
//! (`.eh_frame`, `.eh_frame_hdr`). Read once per file and kept, so that many runs of one
//! test binary read it once.

use object::read::ReadCache;
use object::{Object, ObjectSection, ObjectSegment, SegmentFlags};
use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A section's address range in the binary and its bytes.
#[derive(Debug, Clone)]
pub struct Section {
    /// Where the binary says it is loaded (before relocation).
    pub svma: Range<u64>,
    /// Its contents.
    pub data: Arc<[u8]>,
}

/// One `PT_LOAD` segment: where a range of the file is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The file offset of its first byte.
    pub offset: u64,
    /// How many bytes of the file it holds.
    pub file_size: u64,
    /// The address the binary gives its first byte.
    pub svma: u64,
    /// Executable (`PF_X`).
    pub exec: bool,
}

/// The largest page size a mapping's offset may be rounded down to (aarch64 kernels may
/// use 64 KiB pages).
const MAX_PAGE: u64 = 0x10000;

/// A binary's layout and unwind tables.
#[derive(Debug, Clone, Default)]
pub struct Binary {
    /// Its loadable segments.
    pub segments: Vec<Segment>,
    /// `.text`'s address range.
    pub text: Option<Range<u64>>,
    /// `.got`'s address range (CFI may address relative to it).
    pub got: Option<Range<u64>>,
    /// `.eh_frame`.
    pub eh_frame: Option<Section>,
    /// `.eh_frame_hdr`: the sorted table that finds a function's CFI.
    pub eh_frame_hdr: Option<Section>,
}

impl Binary {
    /// The address the binary gives the code at file offset `offset`. Two segments may
    /// share a page of the file (a read-only one ending where the code begins): code is
    /// in the executable one.
    pub fn svma_of_offset(&self, offset: u64) -> Option<u64> {
        let holds = |s: &&Segment| s.offset <= offset && offset < s.offset + s.file_size;
        let segment = (self.segments.iter().filter(|s| s.exec).find(holds))
            .or_else(|| self.segments.iter().find(holds))?;
        Some(offset - segment.offset + segment.svma)
    }

    /// The address the binary gives the start of an executable mapping of it at file
    /// offset `offset`. The kernel maps whole pages, so the mapping may start before its
    /// segment, on the page the segment begins in.
    pub fn svma_of_mapping(&self, offset: u64) -> Option<u64> {
        let segment = self.segments.iter().find(|s| {
            s.exec && s.offset - s.offset % MAX_PAGE <= offset && offset < s.offset + s.file_size
        })?;
        (offset + segment.svma).checked_sub(segment.offset)
    }

    /// Reads `path`'s layout and unwind tables; None when it is no ELF file.
    fn read(path: &Path) -> Option<Binary> {
        let file = File::open(path).ok()?;
        let cache = ReadCache::new(file);
        let elf = object::File::parse(&cache).ok()?;
        let range = |name: &str| {
            elf.section_by_name(name)
                .map(|s| s.address()..s.address() + s.size())
        };
        let section = |name: &str| {
            let s = elf.section_by_name(name)?;
            Some(Section {
                svma: s.address()..s.address() + s.size(),
                data: Arc::from(s.data().ok()?),
            })
        };
        let segments = elf
            .segments()
            .map(|s| {
                let (offset, file_size) = s.file_range();
                let exec = match s.flags() {
                    SegmentFlags::Elf { p_flags } => p_flags & object::elf::PF_X != 0,
                    _ => false,
                };
                Segment {
                    offset,
                    file_size,
                    svma: s.address(),
                    exec,
                }
            })
            .collect();
        Some(Binary {
            segments,
            text: range(".text"),
            got: range(".got"),
            eh_frame: section(".eh_frame"),
            eh_frame_hdr: section(".eh_frame_hdr"),
        })
    }
}

/// What tells one version of a file from another: a rebuilt test binary has the same
/// path and another inode or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Version {
    dev: u64,
    inode: u64,
    modified: i64,
    modified_ns: i64,
    len: u64,
}

impl Version {
    pub(super) fn of(path: &Path) -> Option<Version> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Version {
            dev: meta.dev(),
            inode: meta.ino(),
            modified: meta.mtime(),
            modified_ns: meta.mtime_nsec(),
            len: meta.len(),
        })
    }
}

/// How many binaries are kept before the cache starts anew.
const KEPT: usize = 256;

/// `path`'s layout and unwind tables, read once per version of the file; None when it
/// cannot be read or is no ELF file (that answer is kept too).
pub fn binary(path: &Path) -> Option<Arc<Binary>> {
    type Cache = HashMap<PathBuf, (Version, Option<Arc<Binary>>)>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let version = Version::of(path)?;
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some((v, binary)) = cache.lock().ok()?.get(path) {
        if *v == version {
            return binary.clone();
        }
    }
    let binary = Binary::read(path).map(Arc::new);
    let mut cache = cache.lock().ok()?;
    if cache.len() >= KEPT {
        cache.clear();
    }
    cache.insert(path.to_path_buf(), (version, binary.clone()));
    binary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_has_segments_and_unwind_tables() {
        let exe = std::env::current_exe().unwrap();
        let b = binary(&exe).expect("an ELF file");
        assert!(!b.segments.is_empty());
        assert!(b.text.is_some());
        assert!(b.eh_frame.as_ref().is_some_and(|s| !s.data.is_empty()));
        assert!(b.eh_frame_hdr.is_some());
        // The same Arc the second time: read once.
        assert!(Arc::ptr_eq(&b, &binary(&exe).unwrap()));
    }

    /// A Rust test binary's layout: the code's segment begins in the last page of the
    /// read-only one, at another address.
    fn test_binary() -> Binary {
        Binary {
            segments: vec![
                Segment {
                    offset: 0,
                    file_size: 0x29b468,
                    svma: 0,
                    exec: false,
                },
                Segment {
                    offset: 0x29b470,
                    file_size: 0x768940,
                    svma: 0x29c470,
                    exec: true,
                },
            ],
            ..Binary::default()
        }
    }

    #[test]
    fn file_offsets_become_the_binarys_addresses_by_segment() {
        let b = test_binary();
        assert_eq!(b.svma_of_offset(0x2a0b11), Some(0x2a1b11));
        assert_eq!(b.svma_of_offset(0x100), Some(0x100));
        assert_eq!(b.svma_of_offset(0x29b46c), None, "between segments");
        assert_eq!(b.svma_of_offset(0x2000000), None);
    }

    #[test]
    fn an_executable_mapping_that_starts_on_a_shared_page_belongs_to_the_code() {
        let b = test_binary();
        // /proc/PID/maps: `r-xp 0029b000`: the page holds the read-only segment's end.
        assert_eq!(b.svma_of_mapping(0x29b000), Some(0x29c000));
        assert_eq!(b.svma_of_mapping(0x2a0000), Some(0x2a1000));
        assert_eq!(b.svma_of_mapping(0x1000), None, "no code there");
    }

    #[test]
    fn what_is_no_elf_file_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text");
        std::fs::write(&path, "not a binary").unwrap();
        assert!(binary(&path).is_none());
        assert!(binary(&dir.path().join("missing")).is_none());
    }
}
