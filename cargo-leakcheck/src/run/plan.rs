//! What a test run will do before it does it: every binary's selected tests (listed by
//! traced `--list` runs), the part `--partition` keeps, and each binary's policy.

use super::context::Settings;
use super::list::{self, Listing};
use super::select::{Partition, Selection, TestCase};
use crate::cargo::TestBinary;
use crate::error::Error;
use crate::policy_layers::ManifestLayers;
use leakcheck::judge::Judge;
use leakcheck::policy::PolicyConfig;

/// One binary, ready to run.
#[derive(Debug)]
pub struct PlannedBinary {
    /// The binary.
    pub binary: TestBinary,
    /// Its selected tests in list order (ignored ones included and marked).
    pub cases: Vec<TestCase>,
    /// How many of its tests the filters and the partition left out.
    pub filtered_out: usize,
    /// Every test it lists (see [`Listing::names`]).
    pub names: Vec<String>,
    /// Which of its tests run: the run's selection, as rustdoc reads it for doctests
    /// (see [`Selection::for_doctests`]).
    pub selection: Selection,
    /// Its `--list` runs' unfinished judges (see [`Listing::judges`]).
    pub judges: Vec<Judge>,
    /// Its policy layers: the manifests', then the environment's and the command line's.
    pub config: PolicyConfig,
}

/// Lists every binary and keeps the selected part of its tests; the partition numbers
/// tests over all binaries in order.
pub fn plan(
    settings: &Settings,
    binaries: Vec<TestBinary>,
    selection: &Selection,
    partition: Option<Partition>,
    manifests: &ManifestLayers,
    top_layer: &PolicyConfig,
) -> Result<Vec<PlannedBinary>, Error> {
    let mut plan = Vec::new();
    let mut index = 0u64;
    for binary in binaries {
        let selection = if binary.doctests {
            selection.for_doctests()
        } else {
            selection.clone()
        };
        let config = manifests
            .for_package(Some(&binary.package))
            .merge(top_layer.clone());
        // Traced, isolated and served by the stand-in like the tests (on the endpoints
        // every test may reach); each test's own policy judges it later.
        let Listing {
            cases,
            mut filtered_out,
            names,
            judges,
        } = {
            let began = std::time::Instant::now();
            let listing = list::list(
                &settings.for_config(&config),
                &binary,
                &selection,
                &config.resolve(""),
            )?;
            crate::timings::span(format!("list {}", binary.report_name()), began);
            listing
        };
        let mut kept = Vec::with_capacity(cases.len());
        for case in cases {
            let keep = partition.is_none_or(|p| p.keeps(index, &binary.report_name(), &case.name));
            index += 1;
            if keep {
                kept.push(case);
            } else {
                filtered_out += 1;
            }
        }
        plan.push(PlannedBinary {
            binary,
            cases: kept,
            filtered_out,
            names,
            selection,
            judges,
            config,
        });
    }
    Ok(plan)
}
