//! `cargo leakcheck nextest-config`: the `.config/nextest.toml` that makes cargo-nextest
//! (0.9.98 or later, `experimental = ["wrapper-scripts"]`) start every test process, and
//! its `--list` runs, through `cargo leakcheck wrap` ([`crate::run::wrap`]).

use std::fmt::Write as _;

/// What the configuration sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextestConfig {
    /// The program nextest starts: `cargo-leakcheck` (found on `PATH`) unless given.
    pub program: String,
    /// The options `wrap` gets, as written on its command line.
    pub wrap_args: Vec<String>,
    /// The nextest profile the rule goes in.
    pub profile: String,
    /// The filterset of the tests it applies to.
    pub filter: String,
    /// The filterset of the binaries whose `--list` runs it applies to (nextest allows
    /// only binary predicates there).
    pub list_filter: String,
}

impl NextestConfig {
    /// The file's text.
    pub fn toml(&self) -> String {
        let mut command = vec![self.program.clone(), "wrap".to_string()];
        command.extend(self.wrap_args.iter().cloned());
        command.push("--".to_string());
        let command: Vec<String> = command.iter().map(|a| toml_string(a)).collect();
        let profile = toml_key(&self.profile);
        let rules = if self.filter == self.list_filter {
            format!(
                "[[profile.{profile}.scripts]]\n\
                 filter = {}\n\
                 run-wrapper = 'leakcheck'\n\
                 list-wrapper = 'leakcheck'\n",
                toml_string(&self.filter)
            )
        } else {
            format!(
                "[[profile.{profile}.scripts]]\n\
                 filter = {}\n\
                 run-wrapper = 'leakcheck'\n\
                 \n\
                 [[profile.{profile}.scripts]]\n\
                 filter = {}\n\
                 list-wrapper = 'leakcheck'\n",
                toml_string(&self.filter),
                toml_string(&self.list_filter)
            )
        };
        let mut out = String::new();
        let _ = write!(
            out,
            "# .config/nextest.toml, written by `cargo leakcheck nextest-config`: every test\n\
             # process cargo-nextest starts, and its --list runs, run under `cargo leakcheck\n\
             # wrap`, which fails a test that leaks (the report is on its stderr).\n\
             # Needs cargo-nextest 0.9.98 or later.\n\
             experimental = [\"wrapper-scripts\"]\n\
             \n\
             [scripts.wrapper.leakcheck]\n\
             command = [{}]\n\
             \n\
             {rules}",
            command.join(", "),
        );
        out
    }
}

/// A TOML string: a literal string ('...') when it can be one, else a basic string with
/// escapes.
fn toml_string(s: &str) -> String {
    if !s.contains('\'') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_string()
    } else {
        toml_string(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_sets_up_the_wrapper() {
        let config = NextestConfig {
            program: "cargo-leakcheck".into(),
            wrap_args: vec![
                "--isolate-network".into(),
                "--allow".into(),
                "127.0.0.1:9050".into(),
            ],
            profile: "default".into(),
            filter: "all()".into(),
            list_filter: "all()".into(),
        };
        assert_eq!(
            config.toml(),
            "# .config/nextest.toml, written by `cargo leakcheck nextest-config`: every test\n\
             # process cargo-nextest starts, and its --list runs, run under `cargo leakcheck\n\
             # wrap`, which fails a test that leaks (the report is on its stderr).\n\
             # Needs cargo-nextest 0.9.98 or later.\n\
             experimental = [\"wrapper-scripts\"]\n\
             \n\
             [scripts.wrapper.leakcheck]\n\
             command = ['cargo-leakcheck', 'wrap', '--isolate-network', '--allow', '127.0.0.1:9050', '--']\n\
             \n\
             [[profile.default.scripts]]\n\
             filter = 'all()'\n\
             run-wrapper = 'leakcheck'\n\
             list-wrapper = 'leakcheck'\n"
        );
    }

    #[test]
    fn a_filter_on_tests_is_a_rule_of_its_own() {
        let config = NextestConfig {
            program: "/opt/cargo-leakcheck".into(),
            wrap_args: Vec::new(),
            profile: "ci".into(),
            filter: "test(/net/)".into(),
            list_filter: "all()".into(),
        };
        assert!(config.toml().ends_with(
            "command = ['/opt/cargo-leakcheck', 'wrap', '--']\n\
             \n\
             [[profile.ci.scripts]]\n\
             filter = 'test(/net/)'\n\
             run-wrapper = 'leakcheck'\n\
             \n\
             [[profile.ci.scripts]]\n\
             filter = 'all()'\n\
             list-wrapper = 'leakcheck'\n"
        ));
    }

    #[test]
    fn strings_and_keys_are_quoted_when_they_must_be() {
        assert_eq!(toml_string("it's"), "\"it's\"");
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(
            toml_string("test(=a) | package(b)"),
            "'test(=a) | package(b)'"
        );
        assert_eq!(toml_key("ci"), "ci");
        assert_eq!(toml_key("my ci"), "'my ci'");
    }
}
