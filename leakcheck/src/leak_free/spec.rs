//! What the macro hands over about an annotated test ([`Spec`]) and what its body may
//! return ([`TestResult`]).

use std::fmt;

/// What the macro knows about the annotated test.
#[derive(Debug)]
pub struct Spec {
    /// `module_path!()` at the test: the crate name, then the modules.
    pub module_path: &'static str,
    /// The function's name.
    pub fn_name: &'static str,
    /// `CARGO_MANIFEST_DIR` when the test was compiled (the run-time value wins).
    pub manifest_dir: Option<&'static str>,
    /// `CARGO_PKG_NAME` when the test was compiled: selects the package's policy layer.
    pub package: Option<&'static str>,
    /// `allow = [...]`.
    pub allow: &'static [&'static str],
    /// `ip = true|false`.
    pub ip: Option<bool>,
    /// `<kind> = "<severity>"` pairs.
    pub severities: &'static [(&'static str, &'static str)],
    /// `stand-in = ...`: `"accept"` (`true`), `"refuse"`, or `"off"` (`false`).
    pub stand_in: Option<&'static str>,
    /// Whether the test carries `#[should_panic]`.
    pub should_panic: bool,
}

impl Spec {
    /// The test's name as libtest knows it: `module_path!()` without the crate name, then
    /// the function. When the test thread's name (libtest names it after the test)
    /// extends that path, as for rstest's `f::case_1` calling `f`, the thread's name.
    pub fn test_name(&self) -> String {
        let static_name = match self.module_path.split_once("::") {
            Some((_, modules)) => format!("{modules}::{}", self.fn_name),
            None => self.fn_name.to_string(),
        };
        if let Some(thread) = std::thread::current().name() {
            if thread == static_name || thread.starts_with(&format!("{static_name}::")) {
                return thread.to_string();
            }
        }
        static_name
    }
}

/// What a test function may return: `()` or `Result<(), E>` (nested as libtest allows).
pub trait TestResult: Sized {
    /// The value of a passing test.
    fn success() -> Self;
    /// The error text of a failing one (`Err(e)` → `format!("{e:?}")`, as libtest prints
    /// it after `Error: `).
    fn failure(&self) -> Option<String>;
}

impl TestResult for () {
    fn success() -> Self {}
    fn failure(&self) -> Option<String> {
        None
    }
}

impl<T: TestResult, E: fmt::Debug> TestResult for Result<T, E> {
    fn success() -> Self {
        Ok(T::success())
    }
    fn failure(&self) -> Option<String> {
        match self {
            Ok(value) => value.failure(),
            Err(error) => Some(format!("{error:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results() {
        assert_eq!(<Result<(), String>>::success(), Ok(()));
        assert_eq!(Err::<(), _>("x").failure(), Some("\"x\"".to_string()));
        assert_eq!(().failure(), None);
    }
}
