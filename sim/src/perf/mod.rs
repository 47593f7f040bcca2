//! perf's state in the kernel model: PMUs (core and uncore), each CPU's `perf_cpu_context` per
//! PMU (`online` flag and installed events), `perf_online_mask`, a per-CPU usable mask (like
//! RCU's `->qsmaskinitnext`), and which CPU reads each uncore PMU in each package.

use crate::cpumask::CpuMask;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Most PMU slots (registered at boot or by churn) a machine may have.
pub const MAX_PMUS: usize = 256;
/// Most packages a machine may have.
pub const MAX_PACKAGES: u32 = 4096;

const NO_CPU: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PmuScope {
    /// Per-CPU counters: events on a CPU going down are removed.
    Core,
    /// One designated CPU per package reads it; its context is handed off on cpu_down.
    Uncore,
    /// A software-context PMU (`software`, `tracepoint`, `breakpoint`, …): all of them share
    /// one CPU context per CPU (`find_pmu_context()` before v6.2), and events on a CPU going
    /// down are removed as for core PMUs.
    Software,
}

impl PmuScope {
    pub fn as_str(self) -> &'static str {
        match self {
            PmuScope::Core => "core",
            PmuScope::Uncore => "uncore",
            PmuScope::Software => "software",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmuDef {
    pub name: String,
    pub scope: PmuScope,
    /// Registered at boot (otherwise a slot for PMU churn to register later).
    pub at_boot: bool,
}

/// Which state decides whether perf may use a CPU (docs/model.md §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnlineView {
    /// The hotplug online mask, `cpu_online()`.
    CpuOnline,
    /// `cpuctx->online` of the CPU's context (v4.13 `perf_event_open`).
    CtxOnline,
    /// The per-CPU usable mask.
    Usable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfConfig {
    pub packages: u32,
    pub pmus: Vec<PmuDef>,
    pub view: OnlineView,
}

impl PerfConfig {
    /// One package and no PMUs: for lock-only models such as the lock bench.
    pub fn without_pmus() -> PerfConfig {
        PerfConfig { packages: 1, pmus: Vec::new(), view: OnlineView::CpuOnline }
    }

    /// The context slot of each PMU: its own index, or for software PMUs the first software
    /// PMU's, whose context they share.
    pub fn context_slots(&self) -> Vec<u16> {
        let shared = self.pmus.iter().position(|p| p.scope == PmuScope::Software);
        self.pmus
            .iter()
            .enumerate()
            .map(|(i, p)| match (p.scope, shared) {
                (PmuScope::Software, Some(first)) => first as u16,
                _ => i as u16,
            })
            .collect()
    }
}

/// Hashes event ids for the `installed` index with splitmix64: fixed, cheap, and spreading the
/// task bits of an id (`task << 32 | counter`) over the table.
#[derive(Default)]
struct EventIdHasher(u64);

impl Hasher for EventIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(byte as u64);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = crate::rng::splitmix64(self.0 ^ id);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Installed {
    pub cpu: u32,
    pub pmu: u16,
}

/// perf's state for a machine of `cpus` CPUs.
pub struct Perf {
    cpus: u32,
    packages: u32,
    pmus: Vec<PmuDef>,
    /// Each PMU's context slot ([`PerfConfig::context_slots`]).
    ctx_of: Vec<u16>,
    view: OnlineView,
    /// The `pmus` list in registration order.
    list: Vec<u16>,
    /// Shared copies of `list` as `for_each_pmu` snapshots it, all PMUs and by scope
    /// ([`Perf::list_snapshot`]); dropped whenever the list changes.
    snapshots: [Option<Arc<[u16]>>; 4],
    registered: Vec<bool>,
    ctx_online: Vec<bool>,
    ctx_events: Vec<Vec<u64>>,
    perf_online: Vec<bool>,
    usable: Vec<bool>,
    /// Between perf init(c) starting and perf exit(c) finishing: events may be programmed.
    active: Vec<bool>,
    /// `[pmu * packages + package]`: the CPU that reads an uncore PMU in a package.
    uncore_owner: Vec<u32>,
    /// Where each installed event is. Only looked up, never iterated: no hash order leaks out.
    installed: HashMap<u64, Installed, BuildHasherDefault<EventIdHasher>>,
    pub events_installed_total: u64,
    pub events_removed_total: u64,
    pub events_moved_total: u64,
}

impl Perf {
    /// Boot state: every CPU online and usable, every boot PMU registered and online.
    pub fn new(cpus: u32, config: &PerfConfig) -> Perf {
        assert!(config.packages >= 1 && config.packages <= cpus, "validated: 1 <= packages <= cpus");
        assert!(config.pmus.len() <= MAX_PMUS, "validated: at most {MAX_PMUS} PMUs");
        let npmus = config.pmus.len();
        let slots = cpus as usize * npmus;
        let mut perf = Perf {
            cpus,
            packages: config.packages,
            pmus: config.pmus.clone(),
            ctx_of: config.context_slots(),
            view: config.view,
            list: Vec::new(),
            snapshots: Default::default(),
            registered: vec![false; npmus],
            ctx_online: vec![false; slots],
            ctx_events: vec![Vec::new(); slots],
            perf_online: vec![true; cpus as usize],
            usable: vec![true; cpus as usize],
            active: vec![true; cpus as usize],
            uncore_owner: vec![NO_CPU; npmus * config.packages as usize],
            installed: HashMap::default(),
            events_installed_total: 0,
            events_removed_total: 0,
            events_moved_total: 0,
        };
        let online = CpuMask::full(cpus);
        for pmu in 0..npmus as u16 {
            if perf.pmus[pmu as usize].at_boot {
                perf.register(pmu, |_| true, &online);
            }
        }
        perf
    }

    pub fn pmus(&self) -> &[PmuDef] {
        &self.pmus
    }

    pub fn view(&self) -> OnlineView {
        self.view
    }

    pub fn package_of(&self, cpu: u32) -> u32 {
        (cpu as u64 * self.packages as u64 / self.cpus as u64) as u32
    }

    /// The CPUs of a package, a contiguous range.
    pub fn package_cpus(&self, package: u32) -> std::ops::Range<u32> {
        let first = (package as u64 * self.cpus as u64).div_ceil(self.packages as u64) as u32;
        let end = ((package as u64 + 1) * self.cpus as u64).div_ceil(self.packages as u64) as u32;
        first..end
    }

    fn slot(&self, cpu: u32, pmu: u16) -> usize {
        cpu as usize * self.pmus.len() + self.ctx_of[pmu as usize] as usize
    }

    pub fn is_registered(&self, pmu: u16) -> bool {
        self.registered[pmu as usize]
    }

    /// Registered PMUs in list order.
    pub fn list(&self) -> &[u16] {
        &self.list
    }

    /// The registered PMUs of `scope` (all of them for `None`) in list order, as a snapshot a
    /// loop can keep while the list changes; shared until it does, so taking one is cheap.
    pub fn list_snapshot(&mut self, scope: Option<PmuScope>) -> Arc<[u16]> {
        let index = scope.map_or(0, |s| 1 + s as usize);
        let Perf { snapshots, list, pmus, .. } = self;
        snapshots[index]
            .get_or_insert_with(|| {
                list.iter().copied().filter(|&p| scope.is_none_or(|s| pmus[p as usize].scope == s)).collect()
            })
            .clone()
    }

    pub fn ctx_online(&self, cpu: u32, pmu: u16) -> bool {
        self.ctx_online[self.slot(cpu, pmu)]
    }

    pub fn set_ctx_online(&mut self, cpu: u32, pmu: u16, value: bool) {
        let slot = self.slot(cpu, pmu);
        self.ctx_online[slot] = value;
    }

    pub fn perf_online(&self, cpu: u32) -> bool {
        self.perf_online[cpu as usize]
    }

    pub fn set_perf_online(&mut self, cpu: u32, value: bool) {
        self.perf_online[cpu as usize] = value;
    }

    pub fn usable(&self, cpu: u32) -> bool {
        self.usable[cpu as usize]
    }

    pub fn set_usable(&mut self, cpu: u32, value: bool) {
        self.usable[cpu as usize] = value;
    }

    pub fn active(&self, cpu: u32) -> bool {
        self.active[cpu as usize]
    }

    pub fn set_active(&mut self, cpu: u32, value: bool) {
        self.active[cpu as usize] = value;
    }

    /// Whether the scheme, by its own view, lets perf use `(cpu, pmu)`.
    pub fn usable_by_view(&self, cpu: u32, pmu: u16, cpu_online: bool) -> bool {
        match self.view {
            OnlineView::CpuOnline => cpu_online,
            OnlineView::CtxOnline => self.ctx_online(cpu, pmu),
            OnlineView::Usable => self.usable(cpu),
        }
    }

    pub fn events_on(&self, cpu: u32, pmu: u16) -> &[u64] {
        &self.ctx_events[self.slot(cpu, pmu)]
    }

    pub fn installed(&self, event: u64) -> Option<Installed> {
        self.installed.get(&event).copied()
    }

    pub fn install(&mut self, event: u64, cpu: u32, pmu: u16) {
        let slot = self.slot(cpu, pmu);
        self.ctx_events[slot].push(event);
        let previous = self.installed.insert(event, Installed { cpu, pmu });
        assert!(previous.is_none(), "event {event} installed twice");
        self.events_installed_total += 1;
    }

    /// Removes one event wherever it is installed; `false` if it was not.
    pub fn remove(&mut self, event: u64) -> bool {
        let Some(at) = self.installed.remove(&event) else { return false };
        let slot = self.slot(at.cpu, at.pmu);
        let list = &mut self.ctx_events[slot];
        let index = list.iter().position(|&e| e == event).expect("installed event is on its context");
        list.remove(index);
        self.events_removed_total += 1;
        true
    }

    /// Removes every event of a context; returns how many.
    pub fn remove_all(&mut self, cpu: u32, pmu: u16) -> usize {
        let slot = self.slot(cpu, pmu);
        let events = std::mem::take(&mut self.ctx_events[slot]);
        for event in &events {
            self.installed.remove(event);
        }
        self.events_removed_total += events.len() as u64;
        events.len()
    }

    /// Moves every event of `pmu`'s context on `from` to `to` (uncore handoff); the owner follows.
    pub fn move_events(&mut self, pmu: u16, from: u32, to: u32) -> usize {
        let (src, dst) = (self.slot(from, pmu), self.slot(to, pmu));
        let events = std::mem::take(&mut self.ctx_events[src]);
        for event in &events {
            self.installed.insert(*event, Installed { cpu: to, pmu });
        }
        self.events_moved_total += events.len() as u64;
        self.ctx_events[dst].extend_from_slice(&events);
        let package = self.package_of(from);
        self.set_uncore_owner(pmu, package, to);
        events.len()
    }

    pub fn uncore_owner(&self, pmu: u16, package: u32) -> Option<u32> {
        let owner = self.uncore_owner[pmu as usize * self.packages as usize + package as usize];
        (owner != NO_CPU).then_some(owner)
    }

    fn set_uncore_owner(&mut self, pmu: u16, package: u32, cpu: u32) {
        self.uncore_owner[pmu as usize * self.packages as usize + package as usize] = cpu;
    }

    /// Uncore PMUs `cpu` reads for its package, each with the CPU its context moves to (the
    /// lowest other online CPU of the package). A PMU with nowhere to go loses its reader.
    pub fn handoffs(&mut self, cpu: u32, online: &CpuMask) -> Vec<(u16, u32)> {
        let package = self.package_of(cpu);
        let mut moves = Vec::new();
        for index in 0..self.list.len() {
            let pmu = self.list[index];
            if self.pmus[pmu as usize].scope != PmuScope::Uncore || self.uncore_owner(pmu, package) != Some(cpu) {
                continue;
            }
            match online.first_in_but(self.package_cpus(package), cpu) {
                Some(target) => moves.push((pmu, target)),
                None => self.set_uncore_owner(pmu, package, NO_CPU),
            }
        }
        moves
    }

    /// `cpu` becomes the reader of every uncore PMU its package has no reader for.
    pub fn adopt_uncore(&mut self, cpu: u32) {
        let package = self.package_of(cpu);
        for index in 0..self.list.len() {
            let pmu = self.list[index];
            if self.pmus[pmu as usize].scope == PmuScope::Uncore && self.uncore_owner(pmu, package).is_none() {
                self.set_uncore_owner(pmu, package, cpu);
            }
        }
    }

    /// `perf_pmu_register()`'s effect: contexts initialised (`online` from `init(cpu)`), list add.
    pub fn register(&mut self, pmu: u16, init: impl Fn(u32) -> bool, online: &CpuMask) {
        assert!(!self.registered[pmu as usize], "PMU {pmu} registered twice");
        self.registered[pmu as usize] = true;
        self.list.push(pmu);
        self.snapshots = Default::default();
        for cpu in 0..self.cpus {
            let value = init(cpu);
            self.set_ctx_online(cpu, pmu, value);
        }
        if self.pmus[pmu as usize].scope == PmuScope::Uncore {
            for package in 0..self.packages {
                let reader = online.first_in(self.package_cpus(package)).unwrap_or(NO_CPU);
                self.set_uncore_owner(pmu, package, reader);
            }
        }
    }

    /// `perf_pmu_unregister()`'s list del; its contexts go offline.
    pub fn unregister(&mut self, pmu: u16) {
        assert!(self.registered[pmu as usize], "PMU {pmu} unregistered while not registered");
        self.registered[pmu as usize] = false;
        self.list.retain(|&p| p != pmu);
        self.snapshots = Default::default();
        for cpu in 0..self.cpus {
            self.set_ctx_online(cpu, pmu, false);
            let slot = self.slot(cpu, pmu);
            assert!(self.ctx_events[slot].is_empty(), "PMU {pmu} unregistered with events installed");
        }
        for package in 0..self.packages {
            self.set_uncore_owner(pmu, package, NO_CPU);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf(cpus: u32, packages: u32) -> Perf {
        let pmus = vec![
            PmuDef { name: "cpu".into(), scope: PmuScope::Core, at_boot: true },
            PmuDef { name: "uncore_imc".into(), scope: PmuScope::Uncore, at_boot: true },
            PmuDef { name: "churn".into(), scope: PmuScope::Core, at_boot: false },
        ];
        Perf::new(cpus, &PerfConfig { packages, pmus, view: OnlineView::CtxOnline })
    }

    #[test]
    fn packages_split_cpus_into_contiguous_ranges() {
        let p = perf(10, 3);
        let ranges: Vec<_> = (0..3).map(|k| p.package_cpus(k)).collect();
        assert_eq!(ranges, vec![0..4, 4..7, 7..10]);
        for k in 0..3 {
            for cpu in p.package_cpus(k) {
                assert_eq!(p.package_of(cpu), k);
            }
        }
    }

    #[test]
    fn boot_registers_boot_pmus_with_the_first_cpu_of_each_package_reading_uncore() {
        let p = perf(8, 2);
        assert_eq!(p.list(), &[0, 1]);
        assert!(p.ctx_online(5, 0) && !p.ctx_online(5, 2));
        assert_eq!((p.uncore_owner(1, 0), p.uncore_owner(1, 1)), (Some(0), Some(4)));
    }

    #[test]
    fn handoff_moves_events_and_ownership_to_the_lowest_other_online_cpu() {
        let mut p = perf(8, 2);
        p.install(7, 4, 1);
        let mut online = vec![true; 8];
        online[5] = false;
        assert_eq!(p.handoffs(4, &CpuMask::from_bools(&online)), vec![(1, 6)]);
        assert_eq!(p.move_events(1, 4, 6), 1);
        assert_eq!(p.installed(7), Some(Installed { cpu: 6, pmu: 1 }));
        assert_eq!(p.uncore_owner(1, 1), Some(6));
        let alone = vec![false, false, false, false, false, false, true, false];
        assert!(p.handoffs(6, &CpuMask::from_bools(&alone)).is_empty());
        assert_eq!(p.uncore_owner(1, 1), None);
        p.adopt_uncore(5);
        assert_eq!(p.uncore_owner(1, 1), Some(5));
    }
}
