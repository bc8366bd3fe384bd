//! The tasks that made each finding, and what each made of it: the program it ran at its
//! first attempt, the names its lookups asked for. A batch run's finding is shared by
//! every test whose tasks made it (one finding per kind, destination and call); each
//! test's copy names its own program and names, not another test's.

use super::{Judge, MAX_MAKERS};
use crate::attribution::Origin;
use crate::query::{Queries, Question};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What one task made of a finding.
#[derive(Debug, Clone, Default)]
pub(super) struct Maker {
    /// The program it ran at its first attempt (None: not known then).
    program: Option<Arc<str>>,
    /// The names its lookups asked for.
    queries: Queries,
}

/// The tasks that made a finding; None when there were too many to keep (then the
/// finding is the binary's as a whole).
pub(super) type Makers = Option<HashMap<usize, Maker>>;

/// What the tasks of one origin made of a finding: the program of the first of them, the
/// names they asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    /// The program that made the origin's first attempt.
    pub program: Option<String>,
    /// The names the origin's lookups asked for (`dns` findings).
    pub query: Option<String>,
}

impl Judge {
    /// Task `maker` made (again) finding `finding`.
    pub(super) fn add_maker(&mut self, finding: usize, maker: Option<usize>) {
        let Some(makers) = &mut self.makers[finding] else {
            return;
        };
        match maker {
            Some(task) if makers.contains_key(&task) => {}
            Some(task) if makers.len() < MAX_MAKERS => {
                let program = self.tasks.program(task);
                makers.insert(
                    task,
                    Maker {
                        program,
                        queries: Queries::default(),
                    },
                );
            }
            _ => self.makers[finding] = None,
        }
    }

    /// Adds what task `task` asked for to finding `finding`'s query (and to that task's
    /// share of it).
    pub(super) fn asked(
        &mut self,
        finding: usize,
        task: Option<usize>,
        questions: impl IntoIterator<Item = Question>,
    ) {
        let mut own = task.and_then(|t| {
            self.makers
                .get_mut(finding)?
                .as_mut()?
                .get_mut(&t)
                .map(|m| &mut m.queries)
        });
        let queries = self.queries.entry(finding).or_default();
        let mut changed = false;
        for question in questions {
            if let Some(own) = own.as_mut() {
                own.add(question.clone());
            }
            changed |= queries.add(question);
        }
        if changed {
            let text = queries.render();
            if let Some(f) = self.findings.get_mut(finding) {
                f.query = Some(text);
            }
        }
    }

    /// Where the tasks that made finding `index` come from, with what each origin made
    /// of it. Tasks of one test are one origin whether they are its own thread's or
    /// threads it shares (a pool): `attribution` tells those apart, this keeps them
    /// together so that the test gets one copy.
    pub(super) fn made_by_origin(&self, index: usize) -> BTreeMap<Origin, Made> {
        let finding = &self.findings[index];
        let Some(makers) = self.makers[index].as_ref().filter(|m| !m.is_empty()) else {
            let made = Made {
                program: finding.program.clone(),
                query: finding.query.clone(),
            };
            return BTreeMap::from([(Origin::Binary, made)]);
        };
        let mut tasks: Vec<(&usize, &Maker)> = makers.iter().collect();
        // Task numbers follow the trace: the first is the first attempt.
        tasks.sort_by_key(|(t, _)| **t);
        let mut by_origin: BTreeMap<Origin, (Option<Arc<str>>, Queries)> = BTreeMap::new();
        for (&task, maker) in tasks {
            let origin = self.tasks.origin(task);
            let (program, queries) = by_origin.entry(origin).or_default();
            if program.is_none() {
                // Known now if not then (a task seen before the line naming its parent).
                *program = maker.program.clone().or_else(|| self.tasks.program(task));
            }
            queries.extend(&maker.queries);
        }
        by_origin
            .into_iter()
            .map(|(origin, (program, queries))| {
                let made = Made {
                    program: program.map(|p| p.to_string()),
                    query: (!queries.is_empty()).then(|| queries.render()),
                };
                (origin, made)
            })
            .collect()
    }
}
