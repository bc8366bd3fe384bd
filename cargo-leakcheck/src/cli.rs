//! The command line: clap's types stay in this file, which turns them into the plain
//! options of the stages ([`Invocation`]).

use crate::cargo::BuildOptions;
use crate::error::Error;
use crate::exit;
use crate::nextest::NextestConfig;
use crate::policy_layers::PolicyOptions;
use crate::reporter::{self, ReporterOptions};
use crate::run::command::CommandOptions;
use crate::run::context::TraceOptions;
use crate::run::select::{Partition, Selection};
use crate::run::suite::TestOptions;
use crate::run::wrap::WrapOptions;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Turns proxy leaks into failing tests.
#[derive(Debug, Parser)]
#[command(
    name = "cargo leakcheck",
    bin_name = "cargo leakcheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 clean; 1 a leak or an unverified verdict; 101 tests failed but nothing leaked; 2 usage, configuration or setup error."
)]
struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub test: TestArgs,
}

/// `cargo leakcheck [cargo test options] [TESTNAME] [-- libtest options]`.
#[derive(Debug, Args, Clone, Default)]
struct TestArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Package(s) to test.
    #[arg(
        short = 'p',
        long = "package",
        value_name = "SPEC",
        help_heading = "Package selection"
    )]
    pub package: Vec<String>,
    /// Test all packages in the workspace.
    #[arg(long, help_heading = "Package selection")]
    pub workspace: bool,
    /// Exclude packages (with --workspace).
    #[arg(long, value_name = "SPEC", help_heading = "Package selection")]
    pub exclude: Vec<String>,
    /// Test only this package's library.
    #[arg(long, help_heading = "Target selection")]
    pub lib: bool,
    /// Test only the libraries' doctests.
    #[arg(long, help_heading = "Target selection")]
    pub doc: bool,
    /// Test all binaries.
    #[arg(long, help_heading = "Target selection")]
    pub bins: bool,
    /// Test only the named binary.
    #[arg(long = "bin", value_name = "NAME", help_heading = "Target selection")]
    pub bin: Vec<String>,
    /// Test only the named integration test.
    #[arg(long = "test", value_name = "NAME", help_heading = "Target selection")]
    pub test_target: Vec<String>,
    /// Test all integration tests.
    #[arg(long, help_heading = "Target selection")]
    pub tests: bool,
    /// Test all examples.
    #[arg(long, help_heading = "Target selection")]
    pub examples: bool,
    /// Test only the named example.
    #[arg(
        long = "example",
        value_name = "NAME",
        help_heading = "Target selection"
    )]
    pub example: Vec<String>,
    /// Features to activate.
    #[arg(
        short = 'F',
        long,
        value_name = "FEATURES",
        help_heading = "Feature selection"
    )]
    pub features: Vec<String>,
    /// Activate all features.
    #[arg(long, help_heading = "Feature selection")]
    pub all_features: bool,
    /// Do not activate the default feature.
    #[arg(long, help_heading = "Feature selection")]
    pub no_default_features: bool,
    /// Build in release mode.
    #[arg(short = 'r', long, help_heading = "Compilation options")]
    pub release: bool,
    /// Build with this profile.
    #[arg(long, value_name = "NAME", help_heading = "Compilation options")]
    pub profile: Option<String>,
    /// Build for this target triple.
    #[arg(long, value_name = "TRIPLE", help_heading = "Compilation options")]
    pub target: Option<String>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIRECTORY", help_heading = "Compilation options")]
    pub target_dir: Option<PathBuf>,
    /// Number of parallel build jobs.
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        help_heading = "Compilation options"
    )]
    pub jobs: Option<String>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH", help_heading = "Manifest options")]
    pub manifest_path: Option<PathBuf>,
    /// Run without accessing the network (cargo's own flag).
    #[arg(long, help_heading = "Manifest options")]
    pub offline: bool,
    /// Assert that Cargo.lock will remain unchanged.
    #[arg(long, help_heading = "Manifest options")]
    pub locked: bool,
    /// Both --locked and --offline.
    #[arg(long, help_heading = "Manifest options")]
    pub frozen: bool,
    /// Do not print cargo's lines; libtest's terse lines (`cargo test -q`).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// List every test's streams through the stand-in proxy under its line (by default
    /// only a failing test's, in its `failures:` entry).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Run every test in its own traced process from the start. By default each test
    /// binary is first traced once as a whole, and its tests are re-run one process each
    /// only when that trace has a finding (verdicts are the same either way).
    #[arg(long)]
    pub per_test: bool,
    /// Tests run at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub test_threads: Option<usize>,
    /// Terminate a test after this many seconds; its verdict is then unverified unless it
    /// already leaked.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,
    /// human (libtest lines) or json (one JSON object per finished test on stdout).
    #[arg(long, value_name = "FMT", default_value = "human")]
    pub message_format: MessageFormat,
    /// Write JUnit XML here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Run only part of the tests: count:K/N (every Nth test) or hash:K/N.
    #[arg(long, value_name = "SPEC")]
    pub partition: Option<String>,
    /// Colour: auto, always, never (NO_COLOR is honoured).
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// Run only tests whose name contains this (as `cargo test NAME`).
    #[arg(value_name = "TESTNAME")]
    pub filter: Option<String>,
    /// Options for the test harness, after `--`: --exact, --skip NAME, --ignored,
    /// --include-ignored, --test-threads N.
    #[arg(last = true, value_name = "LIBTEST ARGS")]
    pub libtest: Vec<String>,
}

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
enum MessageFormat {
    /// libtest-style lines.
    #[default]
    Human,
    /// One JSON object per finished test.
    Json,
}

/// When to colour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trace any command as a whole (e.g. `cargo leakcheck run -- ./run_tests.sh`).
    Run(RunArgs),
    /// Run leakcheck's positive controls on this machine: one control of every leak kind
    /// and its clean twin, under every tracer available, each in a fresh network
    /// namespace. Exit status: 0 every control detected and every twin clean; 1 one was
    /// missed or flagged; 2 the default tracer could not run them all (what the machine
    /// lacks is named, with the fix).
    SelfTest,
    /// Trace the one test process a runner starts (cargo-nextest's wrapper script): a
    /// leak fails it (exit 1, the report on stderr); else it ends as the test did.
    Wrap(WrapArgs),
    /// Print the .config/nextest.toml that runs every cargo-nextest test under `wrap`.
    NextestConfig(NextestConfigArgs),
}

/// Options shared by every way of running.
#[derive(Debug, Args, Clone, Default)]
struct PolicyArgs {
    /// Allow an endpoint: IP:PORT, [IPV6]:PORT, CIDR:PORT, PORT may be N, N-M or *;
    /// unix:PATH or unix:@NAME. Repeat or separate with commas.
    #[arg(long = "allow", value_name = "ENDPOINT", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Run in a fresh network namespace (loopback only): leaks are seen but cannot leave.
    #[arg(long)]
    pub isolate_network: bool,
    /// Serve a stand-in SOCKS 4/4a/5 proxy on the allowed endpoints inside the run's
    /// network namespace (implies --isolate-network): `accept` plays the destination and
    /// records what is sent; `refuse` answers as Tor does when it cannot connect.
    #[arg(
        long = "stand-in",
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "accept",
        value_parser = ["accept", "refuse"]
    )]
    pub stand_in: Option<String>,
    /// Where to write the JSON report [default: target/leakcheck/report.json; `wrap`'s:
    /// target/leakcheck/nextest/BINARY/TEST.json].
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Unix-socket-only mode: creating any IPv4/IPv6 socket is a leak (policy `ip = false`).
    #[arg(long)]
    pub no_ip: bool,
    /// A failing command or test does not fail the run; only leaks do.
    #[arg(long)]
    pub leaks_only: bool,
    /// How to trace: `native` (ptrace and a seccomp filter; the default on Linux x86_64
    /// and aarch64) or `strace` [env: LEAKCHECK_TRACER].
    #[arg(long, value_name = "BACKEND", value_parser = ["native", "strace"])]
    pub tracer: Option<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Terminate the command, and everything it started, after this many seconds (its
    /// verdict is then unverified unless it already leaked).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,
    /// Keep tracing what the command leaves running until it ends (Heteronculous'
    /// behaviour, strace -f's), within --timeout. Without it, processes still running a
    /// second after the command exited are stopped and reported as leftover-process.
    #[arg(long)]
    pub keep_leftovers: bool,
    /// List the command's streams through the stand-in proxy (by default only when its
    /// verdict fails).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The command to trace, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
struct WrapArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Terminate the test, and everything it started, after this many seconds (its
    /// verdict is then unverified unless it already leaked).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,
    /// The test process's command line, after `--` (nextest's: BINARY --exact NAME
    /// --nocapture).
    #[arg(last = true, required = true, value_name = "TEST COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
struct NextestConfigArgs {
    /// Allow an endpoint in every test (as `--allow`); the packages' metadata applies
    /// anyway.
    #[arg(long = "allow", value_name = "ENDPOINT", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Run every test in a fresh network namespace (loopback only).
    #[arg(long)]
    pub isolate_network: bool,
    /// Serve every test a stand-in SOCKS proxy on its allowed endpoints (as
    /// `cargo leakcheck --stand-in`; implies --isolate-network).
    #[arg(
        long = "stand-in",
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "accept",
        value_parser = ["accept", "refuse"]
    )]
    pub stand_in: Option<String>,
    /// Unix-socket-only mode: creating any IPv4/IPv6 socket is a leak.
    #[arg(long)]
    pub no_ip: bool,
    /// A failing test does not fail; only leaks do.
    #[arg(long)]
    pub leaks_only: bool,
    /// How to trace: `native` or `strace`.
    #[arg(long, value_name = "BACKEND", value_parser = ["native", "strace"])]
    pub tracer: Option<String>,
    /// Terminate a test after this many seconds [default: 300].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// The program nextest starts: a path, or a name on PATH.
    #[arg(long, value_name = "PATH", default_value = "cargo-leakcheck")]
    pub program: String,
    /// The nextest profile to set it up in.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub profile: String,
    /// The tests it applies to, as a nextest filterset.
    #[arg(long, value_name = "FILTERSET", default_value = "all()")]
    pub filter: String,
    /// The test binaries whose --list runs it applies to (binary predicates only).
    #[arg(long, value_name = "FILTERSET", default_value = "all()")]
    pub list_filter: String,
}

impl TestArgs {
    fn build_options(&self) -> BuildOptions {
        BuildOptions {
            package: self.package.clone(),
            workspace: self.workspace,
            exclude: self.exclude.clone(),
            lib: self.lib,
            bins: self.bins,
            bin: self.bin.clone(),
            test: self.test_target.clone(),
            tests: self.tests,
            examples: self.examples,
            example: self.example.clone(),
            features: self.features.clone(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            release: self.release,
            profile: self.profile.clone(),
            target: self.target.clone(),
            target_dir: self.target_dir.clone(),
            jobs: self.jobs.clone(),
            manifest_path: self.manifest_path.clone(),
            offline: self.offline,
            locked: self.locked,
            frozen: self.frozen,
            doc: self.doc,
            quiet: self.quiet,
        }
    }

    /// The options of `cargo leakcheck`, checked in the order a user reads them.
    fn into_options(self) -> Result<(TestOptions, ReporterOptions), Error> {
        let build = self.build_options();
        if build.doc && !build.runs_doctests_only() {
            // cargo's own words.
            return Err(Error::Usage(
                "can't mix --doc with other target selecting options".to_string(),
            ));
        }
        let selection =
            Selection::parse(self.filter.as_deref(), &self.libtest).map_err(Error::Usage)?;
        let partition = self
            .partition
            .as_deref()
            .map(str::parse::<Partition>)
            .transpose()
            .map_err(Error::Usage)?;
        let timeout = timeout(self.timeout)?;
        let output = ReporterOptions {
            format: match self.message_format {
                MessageFormat::Human => reporter::MessageFormat::Human,
                MessageFormat::Json => reporter::MessageFormat::Json,
            },
            color: match self.color {
                ColorChoice::Auto => reporter::ColorChoice::Auto,
                ColorChoice::Always => reporter::ColorChoice::Always,
                ColorChoice::Never => reporter::ColorChoice::Never,
            },
            junit: self.junit.clone(),
            report: self.policy.report.clone(),
            leaks_only: self.policy.leaks_only,
            terse: selection.terse.unwrap_or(self.quiet),
            quiet: self.quiet,
            verbose: self.verbose,
        };
        let options = TestOptions {
            build,
            policy: self.policy.policy_options(),
            trace: self.policy.trace_options(),
            selection,
            partition,
            per_test: self.per_test,
            test_threads: self.test_threads,
            timeout,
        };
        Ok((options, output))
    }
}

impl PolicyArgs {
    fn policy_options(&self) -> PolicyOptions {
        PolicyOptions {
            allow: self.allow.clone(),
            no_ip: self.no_ip,
        }
    }

    fn trace_options(&self) -> TraceOptions {
        TraceOptions {
            isolate_network: self.isolate_network || self.stand_in.is_some(),
            tracer: self.tracer.clone(),
            stand_in: self
                .stand_in
                .as_deref()
                .map(|mode| leakcheck::standin::Plan {
                    mode: mode.parse().unwrap_or_default(),
                    http_connect: Vec::new(),
                }),
        }
    }
}

impl RunArgs {
    fn into_options(self) -> Result<(CommandOptions, ReporterOptions), Error> {
        let output = ReporterOptions {
            report: self.policy.report.clone(),
            leaks_only: self.policy.leaks_only,
            verbose: self.verbose,
            ..ReporterOptions::default()
        };
        let options = CommandOptions {
            policy: self.policy.policy_options(),
            trace: self.policy.trace_options(),
            timeout: timeout(self.timeout)?,
            keep_leftovers: self.keep_leftovers,
            command: self.command,
        };
        Ok((options, output))
    }
}

impl WrapArgs {
    fn into_options(self) -> Result<(WrapOptions, ReporterOptions), Error> {
        let output = ReporterOptions {
            report: self.policy.report.clone(),
            leaks_only: self.policy.leaks_only,
            ..ReporterOptions::default()
        };
        let options = WrapOptions {
            policy: self.policy.policy_options(),
            trace: self.policy.trace_options(),
            timeout: timeout(self.timeout)?,
            command: self.command,
        };
        Ok((options, output))
    }
}

impl NextestConfigArgs {
    /// The configuration, its options checked now rather than in every test.
    fn into_config(self) -> Result<NextestConfig, Error> {
        leakcheck::PolicyConfig::from_allow_list(&self.allow, "--allow")
            .map_err(|e| Error::Policy(e.to_string()))?;
        let mut wrap_args: Vec<String> = Vec::new();
        for endpoint in &self.allow {
            wrap_args.extend(["--allow".to_string(), endpoint.clone()]);
        }
        for (flag, on) in [
            ("--isolate-network", self.isolate_network),
            ("--no-ip", self.no_ip),
            ("--leaks-only", self.leaks_only),
        ] {
            if on {
                wrap_args.push(flag.to_string());
            }
        }
        if let Some(mode) = self.stand_in {
            wrap_args.push(format!("--stand-in={mode}"));
        }
        if let Some(tracer) = self.tracer {
            wrap_args.extend(["--tracer".to_string(), tracer]);
        }
        if let Some(secs) = self.timeout {
            timeout(secs)?;
            wrap_args.extend(["--timeout".to_string(), secs.to_string()]);
        }
        Ok(NextestConfig {
            program: self.program,
            wrap_args,
            profile: self.profile,
            filter: self.filter,
            list_filter: self.list_filter,
        })
    }
}

/// `--timeout SECS` as a duration: a positive number of seconds.
fn timeout(secs: f64) -> Result<Duration, Error> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(Error::Usage(format!(
            "--timeout {secs}: expected a positive number of seconds"
        )))
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// `cargo leakcheck [...]`: trace the tests.
    Tests(Box<TestOptions>, ReporterOptions),
    /// `cargo leakcheck run -- COMMAND`: trace a command.
    Command(CommandOptions, ReporterOptions),
    /// `cargo leakcheck self-test`: the positive controls.
    SelfTest,
    /// `cargo leakcheck wrap -- BINARY ARGS`: trace one test process for a runner.
    Wrap(WrapOptions, ReporterOptions),
    /// `cargo leakcheck nextest-config`: print nextest's configuration.
    NextestConfig(NextestConfig),
    /// clap has printed the help, the version or a usage error: exit with this status.
    Exit(u8),
}

/// Reads the arguments (the program's name first).
pub fn parse(args: Vec<OsString>) -> Result<Invocation, Error> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::SETUP
            } else {
                exit::CLEAN
            };
            let _ = e.print();
            return Ok(Invocation::Exit(code));
        }
    };
    Ok(match cli.command {
        Some(Command::Run(args)) => {
            let (options, output) = args.into_options()?;
            Invocation::Command(options, output)
        }
        Some(Command::SelfTest) => Invocation::SelfTest,
        Some(Command::Wrap(args)) => {
            let (options, output) = args.into_options()?;
            Invocation::Wrap(options, output)
        }
        Some(Command::NextestConfig(args)) => Invocation::NextestConfig(args.into_config()?),
        None => {
            let (options, output) = cli.test.into_options()?;
            Invocation::Tests(Box::new(options), output)
        }
    })
}
