//! Which test a traced task belongs to: by ancestry, not by anything a task can change.
//!
//! libtest runs each test on a thread that its main thread spawns and that names itself
//! after the test as its first act. So a task belongs to the test whose thread created
//! it, directly or through any chain of threads and processes (a tokio runtime, a pool,
//! a forked child, an exec'd program). The test of a test thread is the first name the
//! thread gave itself: renaming it later changes nothing. The kernel keeps 15 bytes of a
//! name, so a name may stand for several tests sharing that prefix; the caller matches it
//! against the tests the binary listed.
//!
//! The same ancestry tells which program a task runs: the one its last execve started,
//! else its parent's when it was made (a fork that did not exec runs its parent's code).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a task comes from, as far as tests go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// Started by the test thread that named itself `name` (at most 15 bytes of the
    /// test's name); `shared` when the task is another thread of the test's process that
    /// the test started (a pool, a runtime), which may run other tests' work too.
    Test {
        /// The test thread's first name.
        name: String,
        /// A thread other than the test's own, in the test binary's process.
        shared: bool,
        /// The test thread's place among the threads the main thread started (see
        /// [`Tasks::test_threads`]).
        thread: usize,
    },
    /// The test binary's own main thread or a task no test thread started (static
    /// initializers, the harness), or a task whose ancestry the trace does not show.
    Binary,
}

#[derive(Debug, Clone)]
struct Task {
    parent: Option<usize>,
    /// A thread of its parent's process.
    thread: bool,
    /// The first name it gave itself.
    name: Option<String>,
    ended: bool,
    born: Option<Instant>,
    died: Option<Instant>,
    /// The program it runs, once known (its execve, or its parent's at the fork).
    program: Option<Arc<str>>,
}

/// Every task of a trace, with its parent.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tasks: Vec<Task>,
    /// The task a thread id currently stands for (ids are reused).
    current: HashMap<u32, usize>,
    /// The threads the first task (the main thread) started, in the order it started
    /// them.
    main_threads: Vec<usize>,
}

/// How many tasks are remembered; past that, new ones are of unknown origin.
const MAX_TASKS: usize = 1 << 20;

impl Tasks {
    /// The task `tid` stands for now, created if the trace has not shown it yet (under
    /// strace -f a child's first calls may come before its parent's clone line). An
    /// ended task keeps its id until a clone line gives the id to a new one: the native
    /// tracer may write a thread's last send after its exit (it lets the call go on
    /// first).
    pub fn task(&mut self, tid: u32) -> Option<usize> {
        match self.current.get(&tid) {
            Some(&t) => Some(t),
            None => self.new_task(tid),
        }
    }

    fn new_task(&mut self, tid: u32) -> Option<usize> {
        if self.tasks.len() >= MAX_TASKS {
            return None;
        }
        self.tasks.push(Task {
            parent: None,
            thread: false,
            name: None,
            ended: false,
            born: None,
            died: None,
            program: None,
        });
        let t = self.tasks.len() - 1;
        self.current.insert(tid, t);
        Some(t)
    }

    /// `parent` made `child`.
    pub fn spawned(&mut self, parent: u32, child: u32, thread: bool) {
        let Some(parent) = self.task(parent) else {
            return;
        };
        let known = self.current.get(&child).copied();
        let child = match known {
            // Seen before its clone line (strace -f prints lines as they come), even
            // ended by then: a vfork child (posix_spawn) may exec, leak and exit before
            // its parent's clone returns. Only the first task has no parent otherwise.
            Some(t) if t != 0 && self.tasks[t].parent.is_none() => t,
            Some(t) if !self.tasks[t].ended => return,
            // A new task with a reused id.
            _ => match self.new_task(child) {
                Some(t) => t,
                None => return,
            },
        };
        if child == parent {
            return;
        }
        let inherited = self.tasks[parent].program.clone();
        let task = &mut self.tasks[child];
        if task.program.is_none() {
            task.program = inherited;
        }
        if task.parent.is_none() {
            task.parent = Some(parent);
            task.thread = thread;
            task.born.get_or_insert_with(Instant::now);
            if parent == 0 && thread {
                self.main_threads.push(child);
            }
        }
    }

    /// `tid` named itself.
    pub fn named(&mut self, tid: u32, name: &str) {
        if let Some(t) = self.task(tid) {
            self.tasks[t].name.get_or_insert_with(|| name.to_string());
        }
    }

    /// `tid` ran execve: it now runs `path`.
    pub fn exec(&mut self, tid: u32, path: &str) {
        if let Some(t) = self.task(tid) {
            self.tasks[t].program = Some(Arc::from(path));
        }
    }

    /// The program task `t` runs: its own, else its nearest ancestor's (a task seen
    /// before the line that names its parent learns it late).
    pub fn program(&self, mut t: usize) -> Option<Arc<str>> {
        // A chain longer than the table is a cycle (a reused id).
        for _ in 0..=self.tasks.len() {
            let task = self.tasks.get(t)?;
            if let Some(program) = &task.program {
                return Some(program.clone());
            }
            t = task.parent?;
        }
        None
    }

    /// `tid` ended.
    pub fn ended(&mut self, tid: u32) {
        if let Some(&t) = self.current.get(&tid) {
            let task = &mut self.tasks[t];
            task.ended = true;
            task.died.get_or_insert_with(Instant::now);
        }
    }

    /// The test thread a task descends from, if any: a thread whose parent is the
    /// first task of the trace (the binary's main thread).
    fn test_thread(&self, mut t: usize) -> Option<usize> {
        // A chain longer than the table is a cycle (a reused id): no test.
        for _ in 0..self.tasks.len() {
            let parent = self.tasks[t].parent?;
            if parent == 0 {
                return self.tasks[t].thread.then_some(t);
            }
            t = parent;
        }
        None
    }

    /// Where task `t` comes from.
    pub fn origin(&self, t: usize) -> Origin {
        let Some(test) = self.test_thread(t) else {
            return Origin::Binary;
        };
        let Some(name) = self.tasks[test].name.clone() else {
            return Origin::Binary;
        };
        // A thread of the binary's process other than the test's own: every link up to
        // the test thread is a thread, not a new process.
        let mut shared = t != test;
        let mut at = t;
        while at != test && shared {
            shared = self.tasks[at].thread;
            at = self.tasks[at].parent.unwrap_or(test);
        }
        let thread = self
            .main_threads
            .iter()
            .position(|&m| m == test)
            .unwrap_or(usize::MAX);
        Origin::Test {
            name,
            shared,
            thread,
        }
    }

    /// The first names of the threads the main thread started, in the order it started
    /// them. libtest starts one per test, in the order of its list (sorted, ignored tests
    /// left out), so a caller that knows the list can tell tests apart whose names share
    /// the 15 bytes the kernel keeps.
    pub fn test_threads(&self) -> Vec<Option<String>> {
        self.main_threads
            .iter()
            .map(|&t| self.tasks[t].name.clone())
            .collect()
    }

    /// How long each thread the main thread started ran (from its creation to its end,
    /// as the trace was read), in the order of [`Tasks::test_threads`].
    pub fn test_times(&self) -> Vec<Option<Duration>> {
        self.main_threads
            .iter()
            .map(|&t| {
                let t = &self.tasks[t];
                Some(t.died?.saturating_duration_since(t.born?))
            })
            .collect()
    }
}

/// Whether a name the kernel kept (15 bytes at most) is this test's.
pub fn name_is_test(kept: &str, test: &str) -> bool {
    const COMM_LEN: usize = 15;
    test.as_bytes().starts_with(kept.as_bytes())
        && (kept.len() == test.len() || kept.len() >= COMM_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_of_a_test_thread_belong_to_it_whatever_they_are_named() {
        let mut t = Tasks::default();
        t.task(100); // the main thread
        t.spawned(100, 101, true);
        t.named(101, "tests::pool");
        t.named(101, "tests::other"); // renamed later: ignored
        t.spawned(101, 102, true); // a pool thread
        t.named(102, "tests::other");
        t.spawned(102, 200, false); // a child process of it
        let child = t.task(200).unwrap();
        assert_eq!(
            t.origin(child),
            Origin::Test {
                name: "tests::pool".into(),
                shared: false,
                thread: 0
            }
        );
        let pool = t.task(102).unwrap();
        assert_eq!(
            t.origin(pool),
            Origin::Test {
                name: "tests::pool".into(),
                shared: true,
                thread: 0
            }
        );
        let main_child = {
            t.spawned(100, 300, false);
            t.task(300).unwrap()
        };
        assert_eq!(t.origin(main_child), Origin::Binary);
    }

    #[test]
    fn a_child_seen_before_its_clone_line_is_attributed_later() {
        let mut t = Tasks::default();
        t.task(100);
        let early = t.task(101).unwrap();
        t.named(101, "tests::a");
        t.spawned(100, 101, true);
        assert_eq!(
            t.origin(early),
            Origin::Test {
                name: "tests::a".into(),
                shared: false,
                thread: 0
            }
        );
    }

    #[test]
    fn a_child_that_ended_before_its_clone_line_is_still_its_parents() {
        let mut t = Tasks::default();
        t.task(100);
        t.spawned(100, 101, true);
        t.named(101, "tests::spawns");
        // strace: the vfork child's whole life, then the parent's clone resumed line.
        let child = t.task(102).unwrap();
        t.exec(102, "/usr/bin/getent");
        t.ended(102);
        t.spawned(101, 102, false);
        assert_eq!(
            t.origin(child),
            Origin::Test {
                name: "tests::spawns".into(),
                shared: false,
                thread: 0
            }
        );
    }

    #[test]
    fn reused_ids_are_new_tasks() {
        let mut t = Tasks::default();
        t.task(100);
        t.spawned(100, 101, true);
        t.named(101, "tests::a");
        t.ended(101);
        // A last line written after the exit is still the old task's.
        let late = t.task(101).unwrap();
        assert!(matches!(t.origin(late), Origin::Test { .. }));
        t.spawned(100, 102, false);
        t.spawned(102, 101, false);
        let again = t.task(101).unwrap();
        assert_ne!(again, late);
        assert_eq!(t.origin(again), Origin::Binary);
    }

    #[test]
    fn a_task_runs_what_it_exec_d_else_its_parents_program() {
        let mut t = Tasks::default();
        t.task(100);
        t.exec(100, "/target/debug/deps/net-1234");
        t.spawned(100, 101, true); // the test thread
        t.spawned(101, 200, false); // a fork
        t.spawned(101, 201, false); // a fork that runs sh, which forks and runs getent
        t.exec(201, "/bin/sh");
        t.spawned(201, 202, false);
        t.exec(202, "/usr/bin/getent");
        let program = |t: &mut Tasks, tid| {
            let task = t.task(tid).unwrap();
            t.program(task).map(|p| p.to_string())
        };
        let test_binary = Some("/target/debug/deps/net-1234");
        assert_eq!(program(&mut t, 101).as_deref(), test_binary);
        assert_eq!(program(&mut t, 200).as_deref(), test_binary);
        assert_eq!(program(&mut t, 201).as_deref(), Some("/bin/sh"));
        assert_eq!(program(&mut t, 202).as_deref(), Some("/usr/bin/getent"));
        // A parent's later exec is not its earlier children's program.
        t.exec(100, "/usr/bin/other");
        assert_eq!(program(&mut t, 200).as_deref(), test_binary);
        // Seen before its clone line (strace -f): its parent's once that line comes.
        let early = t.task(300).unwrap();
        assert_eq!(t.program(early), None);
        t.spawned(202, 300, true);
        assert_eq!(t.program(early).as_deref(), Some("/usr/bin/getent"));
        // A task that exec'd before its clone line keeps its own.
        let own = t.task(301).unwrap();
        t.exec(301, "/usr/bin/curl");
        t.spawned(202, 301, false);
        assert_eq!(t.program(own).as_deref(), Some("/usr/bin/curl"));
    }

    #[test]
    fn kept_names_match_by_prefix_only_when_cut() {
        assert!(name_is_test("tests::a", "tests::a"));
        assert!(!name_is_test("tests::a", "tests::ab"));
        assert!(name_is_test("tests::long_nam", "tests::long_name_here"));
    }
}
