//! Unwinding and symbolizing a real stack: a thread of this test binary waits in a
//! system call, and its stack must lead back to the line that made it.

use super::*;
use crate::event::Frame;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::mpsc;

/// The line of the `read` call below, where the thread waits.
static WAITS_AT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[inline(never)]
fn waits_in_a_known_place(fd: i32) {
    let mut byte = 0u8;
    WAITS_AT.store(line!() + 2, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: a one-byte read into a local.
    let _ = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
}

/// The repository: the workspace whose code these tests are.
fn repository() -> Workspace {
    Workspace::new(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
}

/// Runs `check` on the frames of a thread blocked in `waits_in_a_known_place`.
fn with_a_waiting_thread(check: impl FnOnce(u32, Vec<Frame>)) {
    let (reader, writer) = std::io::pipe().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let fd = reader.as_raw_fd();
    let thread = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() } as u32).unwrap();
        waits_in_a_known_place(fd);
        drop(reader);
    });
    let tid = tid_rx.recv().unwrap();
    let regs = (0..2000)
        .find_map(|_| {
            let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
            // Blocked in read(2) (0 on x86_64, 63 on aarch64).
            let nr = if cfg!(target_arch = "x86_64") {
                "0 "
            } else {
                "63 "
            };
            if !text.starts_with(nr) {
                std::thread::sleep(std::time::Duration::from_millis(1));
                return None;
            }
            Regs::from_proc_syscall(&text)
        })
        .expect("the thread blocks in read");
    let frames = unwind(tid, regs);
    std::io::Write::write_all(&mut &writer, b"x").unwrap();
    thread.join().unwrap();
    check(tid, frames);
}

#[test]
fn a_waiting_threads_stack_leads_back_to_the_line_that_waits() {
    with_a_waiting_thread(|_, frames| {
        assert!(frames.len() >= 3, "{frames:#?}");
        let exe = std::env::current_exe().unwrap();
        assert!(
            frames.iter().any(|f| Path::new(&f.module) == exe),
            "this binary's frames: {frames:#?}"
        );
        let location = locate(&frames, &repository()).expect("a frame in the repository");
        assert_eq!(
            location.file, "leakcheck/src/stack/tests.rs",
            "{location:?}"
        );
        assert_eq!(
            location.line,
            WAITS_AT.load(std::sync::atomic::Ordering::SeqCst),
            "{location:?}"
        );
        assert_eq!(
            location.function,
            "leakcheck::stack::tests::waits_in_a_known_place"
        );
    });
}

#[test]
fn frames_outside_the_workspace_give_no_location() {
    with_a_waiting_thread(|_, frames| {
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(locate(&frames, &Workspace::new(elsewhere.path())), None);
        assert_eq!(locate(&[], &repository()), None);
        let unknown = [Frame {
            module: "/nonexistent/binary".to_string(),
            offset: 0x1234,
        }];
        assert_eq!(locate(&unknown, &repository()), None);
    });
}
