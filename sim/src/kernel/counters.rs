//! Refcounts and static keys' `enabled` counts (docs/model.md §4.12): each counter's instances
//! (one, or one per tracepoint) and their values, which `inc`, `dec` and `if` steps read and write.

use crate::script::{CounterLayout, CounterRef};

/// Most tracepoints a kernel may model.
pub const MAX_TRACEPOINTS: u32 = 4096;
/// Most counters.
pub const MAX_COUNTERS: usize = 256;

/// A counter: its name in reports and scripts, and how many instances it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterDef {
    pub name: String,
    pub layout: CounterLayout,
}

/// Every counter's values, instances of one counter side by side.
pub(super) struct Counters {
    defs: Vec<CounterDef>,
    base: Vec<usize>,
    values: Vec<u32>,
    tracepoints: u32,
}

impl Counters {
    pub(super) fn new(defs: Vec<CounterDef>, tracepoints: u32) -> Counters {
        let mut base = Vec::with_capacity(defs.len());
        let mut len = 0;
        for def in &defs {
            base.push(len);
            len += match def.layout {
                CounterLayout::Global => 1,
                CounterLayout::PerTracepoint => tracepoints.max(1) as usize,
            };
        }
        Counters { defs, base, values: vec![0; len], tracepoints }
    }

    pub(super) fn defs(&self) -> &[CounterDef] {
        &self.defs
    }

    fn slot(&self, counter: CounterRef, tracepoint: u16) -> usize {
        let base = self.base[counter.id as usize];
        match counter.layout {
            CounterLayout::Global => base,
            CounterLayout::PerTracepoint => base + usize::from(tracepoint) % self.tracepoints.max(1) as usize,
        }
    }

    pub(super) fn get(&self, counter: CounterRef, tracepoint: u16) -> u32 {
        self.values[self.slot(counter, tracepoint)]
    }

    pub(super) fn inc(&mut self, counter: CounterRef, tracepoint: u16) {
        let slot = self.slot(counter, tracepoint);
        self.values[slot] = self.values[slot].saturating_add(1);
    }

    /// Takes 1 off; `false` (and the value stays 0) if it was 0 already.
    pub(super) fn dec(&mut self, counter: CounterRef, tracepoint: u16) -> bool {
        let slot = self.slot(counter, tracepoint);
        match self.values[slot].checked_sub(1) {
            Some(v) => {
                self.values[slot] = v;
                true
            }
            None => false,
        }
    }

    /// `name` or `name[tracepoint N]`.
    pub(super) fn name(&self, counter: CounterRef, tracepoint: u16) -> String {
        let def = &self.defs[counter.id as usize];
        match counter.layout {
            CounterLayout::Global => def.name.clone(),
            CounterLayout::PerTracepoint => format!("{}[tracepoint {tracepoint}]", def.name),
        }
    }

    /// Each counter's total over its instances, by name: what a run ends with.
    pub(super) fn totals(&self) -> Vec<(String, u64)> {
        self.defs
            .iter()
            .enumerate()
            .map(|(i, def)| {
                let end = self.base.get(i + 1).copied().unwrap_or(self.values.len());
                (def.name.clone(), self.values[self.base[i]..end].iter().map(|&v| u64::from(v)).sum())
            })
            .collect()
    }
}
