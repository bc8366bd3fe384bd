//! From raw frames to a source location: each frame's binary's debug information
//! (addr2line), innermost frame first and, within a frame, the functions inlined there
//! innermost first, until a source file of the workspace's own.
//!
//! Loading a large debug binary's DWARF takes a while (tens to hundreds of milliseconds),
//! so it is done only for reported findings, and each binary's is kept for the next.

use super::elf::{self, Version};
use super::workspace::Workspace;
use crate::event::Frame;
use crate::verdict::Location;
use addr2line::Loader;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// How many binaries' debug information is kept before the cache starts anew (each
/// holds a mapping of the file and what was parsed of it).
const KEPT: usize = 16;

/// A binary's debug information, for the version of the file it was read from.
struct Symbols {
    version: Version,
    /// None: the file has no debug information that addr2line reads.
    loader: Option<Loader>,
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Symbols>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Symbols>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The first frame of `frames` (innermost first) whose source lies in `workspace`, with
/// its function (demangled, without the hash) and line; None when no frame does (no
/// frame of the workspace's code, or binaries without debug information).
pub fn locate(frames: &[Frame], workspace: &Workspace) -> Option<Location> {
    let mut cache = cache().lock().ok()?;
    frames
        .iter()
        .find_map(|frame| locate_frame(&mut cache, frame, workspace))
}

fn locate_frame(
    cache: &mut HashMap<PathBuf, Symbols>,
    frame: &Frame,
    workspace: &Workspace,
) -> Option<Location> {
    let path = Path::new(&frame.module);
    let svma = elf::binary(path)?.svma_of_offset(frame.offset)?;
    let loader = loader(cache, path)?;
    // The instruction before: a return address may be the first of the next line, or
    // past the end of a function that does not return.
    let probe = svma.checked_sub(1)?;
    let mut frames = loader.find_frames(probe).ok()?;
    while let Ok(Some(inlined)) = frames.next() {
        let Some(location) = inlined.location else {
            continue;
        };
        let (Some(file), Some(line)) = (location.file, location.line) else {
            continue;
        };
        let Some(file) = workspace.relative(Path::new(file)) else {
            continue;
        };
        let function = inlined
            .function
            .as_ref()
            .and_then(|f| f.raw_name().ok().map(|n| demangle(&n)))
            .or_else(|| loader.find_symbol(probe).map(demangle))
            .unwrap_or_else(|| "?".to_string());
        return Some(Location {
            function,
            file,
            line,
        });
    }
    None
}

/// The loader of `path`'s debug information, read once per version of the file.
fn loader<'c>(cache: &'c mut HashMap<PathBuf, Symbols>, path: &Path) -> Option<&'c Loader> {
    let version = Version::of(path)?;
    let fresh = cache.get(path).is_some_and(|s| s.version == version);
    if !fresh {
        if cache.len() >= KEPT {
            cache.clear();
        }
        let loader = Loader::new(path).ok();
        cache.insert(path.to_path_buf(), Symbols { version, loader });
    }
    cache.get(path)?.loader.as_ref()
}

/// A Rust symbol demangled without its hash (`demo::tests::leaks`); other names as they
/// are (C's are not mangled).
pub fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_lose_their_hash_and_c_names_stay() {
        assert_eq!(
            demangle("_ZN6tcrate5tests9leaks_dns17h59ba05aa6b2e3dceE"),
            "tcrate::tests::leaks_dns"
        );
        assert_eq!(
            demangle(
                "_ZN6tcrate5tests9leaks_dns28_$u7b$$u7b$closure$u7d$$u7d$17h5eb984502bbf3b40E"
            ),
            "tcrate::tests::leaks_dns::{{closure}}"
        );
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("getaddrinfo"), "getaddrinfo");
    }
}
