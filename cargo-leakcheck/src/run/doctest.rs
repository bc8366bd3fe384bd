//! Doctests, run as `cargo test --doc` runs them: rustdoc's libtest compiles each doctest
//! and runs it as a process of its own. Their names hold spaces (`src/lib.rs - f (line
//! 5)`), and rustdoc splits its harness arguments at whitespace, so a name cannot be given
//! whole: a doctest is run alone by one word of its name that selects it, and `--skip`
//! words for the others that word selects too.

use super::select::Selection;

/// The harness arguments that make rustdoc run `name` and no other of `names` (every
/// doctest the library lists): the word of `name` that needs the fewest `--skip`s, then
/// those, each a word of another doctest's name that `name` does not contain. An error
/// when no word will do (every word of some other name is in this one's).
pub fn alone_args(name: &str, names: &[String]) -> Result<Vec<String>, String> {
    let mut best: Option<(&str, Vec<&str>)> = None;
    for word in name.split_whitespace() {
        let mut skips: Vec<&str> = Vec::new();
        let excluded = names
            .iter()
            .filter(|other| other.as_str() != name && other.contains(word))
            .all(
                |other| match other.split_whitespace().find(|w| !name.contains(w)) {
                    Some(skip) => {
                        if !skips.contains(&skip) {
                            skips.push(skip);
                        }
                        true
                    }
                    None => false,
                },
            );
        if excluded && best.as_ref().is_none_or(|(_, b)| skips.len() < b.len()) {
            best = Some((word, skips));
        }
    }
    let Some((word, skips)) = best else {
        return Err(format!(
            "rustdoc splits its filters at spaces, and no word of `{name}` selects it without another doctest that cannot be skipped: it cannot run alone"
        ));
    };
    let mut args = vec![word.to_string()];
    for skip in skips {
        args.extend(["--skip".to_string(), skip.to_string()]);
    }
    Ok(args)
}

impl Selection {
    /// This selection as rustdoc applies it: its filters and skips split at whitespace,
    /// as rustdoc splits what `cargo test --doc -- ARGS` passes on.
    pub fn for_doctests(&self) -> Selection {
        let words = |list: &[String]| -> Vec<String> {
            list.iter()
                .flat_map(|s| s.split_whitespace())
                .map(String::from)
                .collect()
        };
        Selection {
            filters: words(&self.filters),
            skip: words(&self.skip),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selects(args: &[String], names: &[String]) -> Vec<String> {
        let skips: Vec<&String> = args
            .iter()
            .skip(1)
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, a)| a)
            .collect();
        names
            .iter()
            .filter(|n| {
                n.contains(args[0].as_str()) && !skips.iter().any(|s| n.contains(s.as_str()))
            })
            .cloned()
            .collect()
    }

    #[test]
    fn each_doctest_is_selected_alone() {
        let names: Vec<String> = [
            "src/lib.rs - f (line 3)",
            "src/lib.rs - f (line 13)",
            "src/lib.rs - lib (line 23)",
            "src/lib.rs - g (line 103)",
            "src/net.rs - f (line 3)",
            "src/lib.rs - Client::connect (line 8)",
        ]
        .map(String::from)
        .into();
        for name in &names {
            let args = alone_args(name, &names).unwrap();
            assert_eq!(
                selects(&args, &names),
                std::slice::from_ref(name),
                "{name}: {args:?}"
            );
        }
    }

    #[test]
    fn a_name_whose_words_are_all_in_another_cannot_run_alone() {
        let names: Vec<String> = ["x y", "y x y", "a - bc", "a - b c"]
            .map(String::from)
            .into();
        assert!(alone_args("x y", &names).is_err());
        // `bc` is a word of one name only.
        assert_eq!(alone_args("a - bc", &names).unwrap(), ["bc"]);
        assert_eq!(
            alone_args("a - b c", &names).unwrap(),
            ["a", "--skip", "bc"]
        );
    }

    #[test]
    fn filters_are_split_at_whitespace_as_rustdoc_does() {
        let selection =
            Selection::parse(Some("f (line 3)"), &["--skip".into(), "a b".into()]).unwrap();
        let doc = selection.for_doctests();
        assert_eq!(doc.filters, ["f", "(line", "3)"]);
        assert_eq!(doc.skip, ["a", "b"]);
    }
}
