//! Unwinding a stopped thread's stack with the DWARF CFI of the binaries it has mapped
//! (`.eh_frame`): Rust code on x86_64 keeps no frame pointers, so the CFI is the only
//! reliable way from a system call back to the code that made it. framehop does the
//! unwinding; the stack is read from the thread's memory while it waits.

use super::elf;
use super::maps::{self, Mapping};
use super::regs::Regs;
use crate::event::Frame;
use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module, Unwinder};
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::io::IoSliceMut;
use std::path::Path;
use std::sync::Arc;

/// How many frames are kept: enough for a test's own code under libtest's, an async
/// runtime's and a resolver's frames.
pub const MAX_FRAMES: usize = 128;

/// The stack is read from the thread's memory in blocks of this size.
const BLOCK: u64 = 4096;

type NativeUnwinder = framehop::UnwinderNative<Arc<[u8]>, framehop::MayAllocateDuringUnwind>;

/// The frames of thread `tid`'s stack, innermost first, from the registers it stopped
/// with. Frames outside any file (the vDSO, generated code) are left out; an unwind that
/// loses its way ends early (with what it found so far).
pub fn unwind(tid: u32, regs: Regs) -> Vec<Frame> {
    let Ok(maps) = maps::read(tid) else {
        return Vec::new();
    };
    let mut unwinder = NativeUnwinder::new();
    for mapping in maps.iter().filter(|m| m.exec) {
        if let Some(module) = module(mapping) {
            unwinder.add_module(module);
        }
    }
    let mut cache = framehop::CacheNative::new();
    let mut stack = StackReader::new(tid);
    let mut read = |address: u64| stack.word(address);
    let mut frames = unwinder.iter_frames(regs.pc, start_regs(regs), &mut cache, &mut read);
    let mut out = Vec::new();
    while out.len() < MAX_FRAMES {
        let address = match frames.next() {
            Ok(Some(address)) => address,
            Ok(None) | Err(_) => break,
        };
        let (raw, lookup) = match address {
            FrameAddress::InstructionPointer(pc) => (pc, pc),
            // A return address may be just past its function (a call that never returns).
            FrameAddress::ReturnAddress(ra) => (ra.get(), ra.get() - 1),
        };
        if let Some(mapping) = maps::find(&maps, lookup) {
            out.push(Frame {
                module: mapping.path.clone().unwrap_or_default(),
                offset: mapping.file_offset(raw),
            });
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
fn start_regs(regs: Regs) -> framehop::UnwindRegsNative {
    framehop::UnwindRegsNative::new(regs.pc, regs.sp, regs.fp)
}

#[cfg(target_arch = "aarch64")]
fn start_regs(regs: Regs) -> framehop::UnwindRegsNative {
    framehop::UnwindRegsNative::new(regs.lr, regs.sp, regs.fp)
}

/// A framehop module for an executable mapping of a binary: its unwind tables, placed
/// where the process mapped it.
fn module(mapping: &Mapping) -> Option<Module<Arc<[u8]>>> {
    let path = mapping.path.as_deref()?;
    let binary = elf::binary(Path::new(path))?;
    // Where the binary's address 0 lies in the process (its load bias).
    let base = mapping
        .start
        .checked_sub(binary.svma_of_mapping(mapping.offset)?)?;
    let info = ExplicitModuleSectionInfo {
        base_svma: 0,
        text_svma: binary.text.clone(),
        got_svma: binary.got.clone(),
        eh_frame_svma: binary.eh_frame.as_ref().map(|s| s.svma.clone()),
        eh_frame: binary.eh_frame.as_ref().map(|s| s.data.clone()),
        eh_frame_hdr_svma: binary.eh_frame_hdr.as_ref().map(|s| s.svma.clone()),
        eh_frame_hdr: binary.eh_frame_hdr.as_ref().map(|s| s.data.clone()),
        ..ExplicitModuleSectionInfo::default()
    };
    Some(Module::new(
        path.to_string(),
        mapping.start..mapping.end,
        base,
        info,
    ))
}

/// Reads a stopped thread's stack a block at a time (an unwind reads a few words from
/// each frame, mostly in the same blocks).
struct StackReader {
    pid: Pid,
    blocks: HashMap<u64, Option<Box<[u8]>>>,
}

impl StackReader {
    fn new(tid: u32) -> StackReader {
        StackReader {
            pid: Pid::from_raw(tid as i32),
            blocks: HashMap::new(),
        }
    }

    fn word(&mut self, address: u64) -> Result<u64, ()> {
        let start = address - address % BLOCK;
        let at = (address - start) as usize;
        if at + 8 > BLOCK as usize {
            // A word across two blocks: read it alone.
            let mut word = [0u8; 8];
            return self
                .read(address, &mut word)
                .map(|()| u64::from_ne_bytes(word));
        }
        if !self.blocks.contains_key(&start) {
            let mut block = vec![0u8; BLOCK as usize].into_boxed_slice();
            let read = self.read(start, &mut block).ok().map(|()| block);
            self.blocks.insert(start, read);
        }
        let block = self.blocks.get(&start).and_then(Option::as_ref).ok_or(())?;
        let bytes: [u8; 8] = block[at..at + 8].try_into().map_err(drop)?;
        Ok(u64::from_ne_bytes(bytes))
    }

    fn read(&self, address: u64, into: &mut [u8]) -> Result<(), ()> {
        let len = into.len();
        let remote = [RemoteIoVec {
            base: address as usize,
            len,
        }];
        match process_vm_readv(self.pid, &mut [IoSliceMut::new(into)], &remote) {
            Ok(n) if n == len => Ok(()),
            _ => Err(()),
        }
    }
}
