//! Framework requirements a control satisfies, derived through the catalog's
//! mappings (control → prowler checks → framework requirements), restricted to
//! the frameworks the profile names.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Recommendation;
use crate::knowledge::ControlDef;
use crate::pipeline::StageInput;

#[derive(Serialize)]
pub(crate) struct Coverage {
    /// Requirements of the framework that at least one recommendation satisfies.
    pub requirements_covered: usize,
    pub requirements_in_framework: usize,
    pub controls_mapped: usize,
}

pub(crate) fn for_control(input: &StageInput<'_>, control: &ControlDef) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for framework in input.profile.frameworks() {
        let ids: BTreeSet<String> = control
            .prowler
            .iter()
            .flat_map(|check| input.catalog().framework_requirements_for_check(framework, check))
            .map(str::to_string)
            .collect();
        out.insert(framework.id().to_string(), ids.into_iter().collect());
    }
    out
}

pub(crate) fn coverage(input: &StageInput<'_>, recs: &[Recommendation]) -> BTreeMap<String, Coverage> {
    input
        .profile
        .frameworks()
        .into_iter()
        .map(|framework| {
            let id = framework.id().to_string();
            let covered: BTreeSet<&String> =
                recs.iter().flat_map(|r| r.frameworks.get(&id).into_iter().flatten()).collect();
            let mapped = recs.iter().filter(|r| r.frameworks.get(&id).is_some_and(|v| !v.is_empty())).count();
            let total = input.catalog().framework(framework).map_or(0, |f| f.requirement_count());
            (
                id,
                Coverage {
                    requirements_covered: covered.len(),
                    requirements_in_framework: total,
                    controls_mapped: mapped,
                },
            )
        })
        .collect()
}
