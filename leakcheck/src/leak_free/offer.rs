//! Already traced by `cargo leakcheck`: whether the run's stand-in proxy (the
//! [`STAND_IN_ENV`] offer) is the one the test's attribute needs, and what the test does
//! when it is not: it runs no body (whatever it would send would go to the wrong proxy,
//! or none) and fails, so that the runner, told why in the attribute file, runs it again
//! with the stand-in it asks for.

use super::spec::{Spec, TestResult};
use crate::policy::PolicyConfig;
use crate::standin::{served, Mode, Offer, STAND_IN_ENV};

/// Why the offered stand-in does not fit `spec`, or None when it does (or when the runner
/// offers nothing: it knows nothing of stand-ins, and the body runs).
pub(super) fn mismatch(spec: &Spec, name: &str) -> Option<String> {
    let offer = Offer::parse(&std::env::var(STAND_IN_ENV).ok()?)?;
    judge(spec, name, &offer)
}

fn judge(spec: &Spec, name: &str, offer: &Offer) -> Option<String> {
    let wanted = match spec.stand_in {
        Some("off") => None,
        Some(mode) => Some(mode.parse::<Mode>().ok()?),
        None => offer.mode,
    };
    match (wanted, offer.mode) {
        (None, None) => None,
        (None, Some(have)) => Some(format!(
            "it asks for no stand-in proxy (stand-in = false), and this run has one ({have})"
        )),
        (Some(want), None) => Some(format!(
            "it asks for the stand-in proxy (stand-in = \"{want}\"), and this run has none"
        )),
        (Some(want), Some(have)) if want != have => Some(format!(
            "it asks for the stand-in proxy in {want} mode, and this run's is in {have} mode"
        )),
        (Some(_), Some(_)) => {
            let own = PolicyConfig::from_allow_list(spec.allow, "#[leak_free(allow = [...])]")
                .ok()?
                .resolve(name);
            let missing: Vec<String> = served(&own)
                .into_iter()
                .filter(|e| !offer.served.contains(e))
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "its allow list adds {}, which this run's stand-in proxy does not serve",
                    missing.join(", ")
                )
            })
        }
    }
}

/// Ends a test whose body must not run here: a failure that says why (a
/// `#[should_panic]` test fails by not panicking). The runner throws this run away, so
/// it says so in one line: no panic message, no backtrace (`resume_unwind` skips the
/// panic hook).
pub(super) fn not_here<R: TestResult>(name: &str, should_panic: bool, why: &str) -> R {
    let text = format!(
        "leak_free: `{name}` did not run its body here: {why}; cargo leakcheck runs it again with the stand-in it asks for"
    );
    println!("{text}");
    if should_panic {
        return R::success();
    }
    std::panic::resume_unwind(Box::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(stand_in: Option<&'static str>, allow: &'static [&'static str]) -> Spec {
        Spec {
            module_path: "demo",
            fn_name: "t",
            manifest_dir: None,
            package: None,
            allow,
            ip: None,
            severities: &[],
            stand_in,
            should_panic: false,
        }
    }

    fn offer(text: &str) -> Offer {
        Offer::parse(text).unwrap()
    }

    #[test]
    fn a_test_fits_the_stand_in_it_asks_for() {
        let accept = offer("accept 127.0.0.1:9050 127.0.0.1:9150");
        assert_eq!(judge(&spec(Some("accept"), &[]), "t", &accept), None);
        assert_eq!(
            judge(&spec(Some("accept"), &["127.0.0.1:9150"]), "t", &accept),
            None
        );
        // No opinion of its own: whatever the run has, unless its allow list adds
        // endpoints the stand-in does not serve.
        assert_eq!(judge(&spec(None, &[]), "t", &accept), None);
        assert_eq!(
            judge(&spec(None, &["127.0.0.1:1"]), "t", &offer("off")),
            None
        );
        // A network or a wildcard port cannot be served: nothing is missing.
        assert_eq!(judge(&spec(None, &["10.0.0.0/8:*"]), "t", &accept), None);
        assert_eq!(judge(&spec(Some("off"), &[]), "t", &offer("off")), None);
    }

    #[test]
    fn a_test_that_does_not_fit_says_why() {
        let why = |s, allow, o| judge(&spec(s, allow), "t", &offer(o)).unwrap();
        assert_eq!(
            why(Some("accept"), &[], "off"),
            "it asks for the stand-in proxy (stand-in = \"accept\"), and this run has none"
        );
        assert_eq!(
            why(Some("refuse"), &[], "accept 127.0.0.1:9050"),
            "it asks for the stand-in proxy in refuse mode, and this run's is in accept mode"
        );
        assert_eq!(
            why(Some("off"), &[], "accept 127.0.0.1:9050"),
            "it asks for no stand-in proxy (stand-in = false), and this run has one (accept)"
        );
        assert_eq!(
            why(None, &["127.0.0.1:9150"], "accept 127.0.0.1:9050"),
            "its allow list adds 127.0.0.1:9150, which this run's stand-in proxy does not serve"
        );
    }
}
