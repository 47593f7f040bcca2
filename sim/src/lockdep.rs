//! Lock-order analysis in lockdep's manner: every class-level "held A, acquiring B" edge with
//! its modes and where it was first seen; every cycle in that graph is a possible deadlock,
//! whether or not a run deadlocked.

use std::collections::BTreeMap;

use crate::locks::{LockKind, Mode};
use crate::script::{ClassId, Position};

/// Most cycles one analysis reports; past it the report says it stopped.
pub const MAX_REPORTED_CYCLES: usize = 64;

/// How lockdep sees one acquisition: `lock_acquire()`'s `read` and `check` arguments
/// (v4.13 `kernel/locking/lockdep.c`; docs/model.md §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockdepAcquire {
    /// `read == 0`: mutexes, spinlocks, writers, lock maps.
    Write,
    /// `read == 1`: `percpu_down_read()`; its dependencies are stored like a write's.
    Read,
    /// `read == 2`: v4.12's `get_online_cpus()`; no dependency is stored into or out of it,
    /// and taking it again while it is held for read is allowed.
    RecursiveRead,
    /// `check == 0`, or no `lock_acquire()` at all: SRCU read sides (`read == 2, check == 0`),
    /// classes marked novalidate (`dev->mutex`), `get_online_cpus()` in the hotplug writer
    /// itself. Lockdep records nothing for it.
    Unchecked,
}

impl LockdepAcquire {
    /// The annotation of taking a lock of `kind` in `mode` (a class marked novalidate is
    /// [`Unchecked`](Self::Unchecked) whatever its kind).
    pub fn of(kind: LockKind, mode: Mode) -> LockdepAcquire {
        match (kind, mode) {
            (LockKind::Srcu, _) => LockdepAcquire::Unchecked,
            (LockKind::PercpuRwsem, Mode::Read) => LockdepAcquire::Read,
            (LockKind::RefcountHotplug, Mode::Read) => LockdepAcquire::RecursiveRead,
            _ => LockdepAcquire::Write,
        }
    }
}

/// A lock class as lockdep keys it: class, nesting subclass, and the mode it is taken in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderNode {
    pub class: ClassId,
    /// 0, or 1 for an acquisition annotated as nested (`mutex_lock_nested`).
    pub subclass: u8,
    pub mode: Mode,
}

impl OrderNode {
    /// The node as one integer that sorts as `OrderNode` does: class, then subclass, then mode.
    fn packed(self) -> u32 {
        (self.class as u32) << 16 | (self.subclass as u32) << 8 | self.mode as u32
    }
}

/// An edge's key: sorts as the pair `(held, acquiring)` does, and compares in one instruction.
fn edge_key(held: OrderNode, acquiring: OrderNode) -> u64 {
    (held.packed() as u64) << 32 | acquiring.packed() as u64
}

/// Where an edge was first seen: the run, time, task, and both script positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeSeen {
    pub run: u64,
    pub time_ns: u64,
    pub task: String,
    pub held_at: Position,
    pub acquired_at: Position,
    pub count: u64,
}

#[derive(Clone, Debug, Default)]
pub struct LockOrder {
    /// [`edge_key`] of each edge, ascending: edges are listed in `(held, acquiring)` order.
    keys: Vec<u64>,
    /// The edges, in step with `keys`.
    edges: Vec<(OrderNode, OrderNode, EdgeSeen)>,
    /// Where recently recorded edges are in `keys`, as lockdep's chain cache spares it
    /// `validate_chain()` for a chain it has seen: most acquisitions repeat a known edge.
    recent: EdgeCache,
}

/// Slots of [`EdgeCache`]: a run records a few dozen distinct edges.
const EDGE_CACHE_SLOTS: usize = 64;

/// A direct-mapped cache from an edge's key to its index in [`LockOrder::keys`] plus one
/// (0: empty). A slot is only a hint, checked against `keys`; inserting an edge, which shifts
/// the indices after it, empties the cache.
#[derive(Clone, Debug)]
struct EdgeCache([u32; EDGE_CACHE_SLOTS]);

impl Default for EdgeCache {
    fn default() -> Self {
        EdgeCache([0; EDGE_CACHE_SLOTS])
    }
}

impl EdgeCache {
    fn slot(key: u64) -> usize {
        // Fibonacci hashing: the top bits of the product mix every bit of the key.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - EDGE_CACHE_SLOTS.trailing_zeros())) as usize
    }
}

/// One possible deadlock: a cycle of edges, each `(held, acquiring, first seen)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderCycle {
    pub edges: Vec<(OrderNode, OrderNode, EdgeSeen)>,
}

impl LockOrder {
    /// Records "held `held`, acquiring `acquiring`"; the first sighting is kept.
    pub fn record(&mut self, held: OrderNode, acquiring: OrderNode, seen: impl FnOnce() -> EdgeSeen) {
        let key = edge_key(held, acquiring);
        let slot = EdgeCache::slot(key);
        let hint = self.recent.0[slot] as usize;
        if hint > 0 && self.keys.get(hint - 1) == Some(&key) {
            self.edges[hint - 1].2.count += 1;
            return;
        }
        match self.keys.binary_search(&key) {
            Ok(index) => {
                self.edges[index].2.count += 1;
                self.recent.0[slot] = index as u32 + 1;
            }
            Err(index) => {
                self.keys.insert(index, key);
                self.edges.insert(index, (held, acquiring, seen()));
                self.recent = EdgeCache::default();
            }
        }
    }

    pub fn edges(&self) -> impl Iterator<Item = (&OrderNode, &OrderNode, &EdgeSeen)> {
        self.edges.iter().map(|(a, b, seen)| (a, b, seen))
    }

    /// Adds another graph's edges. Each edge keeps its earliest sighting by (run, time), so
    /// merging in any order gives the same graph.
    pub fn merge(&mut self, other: &LockOrder) {
        for (&key, (a, b, seen)) in other.keys.iter().zip(&other.edges) {
            match self.keys.binary_search(&key) {
                Ok(index) => {
                    let e = &mut self.edges[index].2;
                    let count = e.count + seen.count;
                    if (seen.run, seen.time_ns) < (e.run, e.time_ns) {
                        *e = seen.clone();
                    }
                    e.count = count;
                }
                Err(index) => {
                    self.keys.insert(index, key);
                    self.edges.insert(index, (*a, *b, seen.clone()));
                    self.recent = EdgeCache::default();
                }
            }
        }
    }

    /// Inserts an edge as another graph saw it (for graphs read back from a file).
    pub fn insert(&mut self, held: OrderNode, acquiring: OrderNode, seen: EdgeSeen) {
        let one = LockOrder {
            keys: vec![edge_key(held, acquiring)],
            edges: vec![(held, acquiring, seen)],
            recent: EdgeCache::default(),
        };
        self.merge(&one);
    }

    /// The possible deadlocks lockdep reports, in its order: dependencies are added by first
    /// sighting (run, time), and one that closes a chain reports it. A new `a → b` with a path
    /// `b → … → a` already in the graph reports the shortest such path (`check_noncircular()`
    /// searches breadth first from `b`); an `a → a` is "possible recursive locking". A pair of
    /// classes already checked (in another mode) is no new dependency and reports nothing. A
    /// dependency into a recursive read (`kind_of` its class says which) is checked but not
    /// stored, as `check_prev_add()` does. Classes are (class, subclass): lockdep's nodes carry
    /// no mode. At most [`MAX_REPORTED_CYCLES`].
    pub fn cycles(&self, kind_of: impl Fn(ClassId) -> LockKind) -> Vec<OrderCycle> {
        type Key = (ClassId, u8);
        let key = |n: &OrderNode| (n.class, n.subclass);
        let mut order: Vec<usize> = (0..self.edges.len()).collect();
        order.sort_by_key(|&i| (self.edges[i].2.run, self.edges[i].2.time_ns, self.keys[i]));
        // Each class's dependencies in the order they were added (lockdep's `locks_after`).
        let mut after: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        let mut checked: std::collections::BTreeSet<(Key, Key)> = Default::default();
        let mut cycles = Vec::new();
        for i in order {
            let (a, b, _) = &self.edges[i];
            let (from, to) = (key(a), key(b));
            if !checked.insert((from, to)) {
                continue;
            }
            let closing = if from == to { Some(Vec::new()) } else { self.shortest_path(&after, to, from) };
            if let Some(path) = closing {
                let mut edges = vec![self.edges[i].clone()];
                edges.extend(path.into_iter().map(|j| self.edges[j].clone()));
                cycles.push(OrderCycle { edges });
                if cycles.len() >= MAX_REPORTED_CYCLES {
                    break;
                }
            }
            if LockdepAcquire::of(kind_of(b.class), b.mode) != LockdepAcquire::RecursiveRead {
                after.entry(from).or_default().push(i);
            }
        }
        cycles
    }

    /// The shortest chain of dependencies from `from` to `to` (edge indices), searching breadth
    /// first in the order dependencies were added.
    fn shortest_path(
        &self,
        after: &BTreeMap<(ClassId, u8), Vec<usize>>,
        from: (ClassId, u8),
        to: (ClassId, u8),
    ) -> Option<Vec<usize>> {
        let key = |n: &OrderNode| (n.class, n.subclass);
        // Each reached class with the edge that reached it.
        let mut reached: BTreeMap<(ClassId, u8), Option<usize>> = BTreeMap::from([(from, None)]);
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            for &j in after.get(&at).map_or(&[][..], |deps| deps.as_slice()) {
                let next = key(&self.edges[j].1);
                if reached.contains_key(&next) {
                    continue;
                }
                reached.insert(next, Some(j));
                if next == to {
                    let mut path = vec![j];
                    let mut class = key(&self.edges[j].0);
                    while let Some(&Some(k)) = reached.get(&class) {
                        path.push(k);
                        class = key(&self.edges[k].0);
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }
}

/// Where an edge was seen, named for a report: the run's seed and an operation and step for
/// a script position.
pub struct ReportNames<'a> {
    pub class: &'a dyn Fn(ClassId) -> String,
    pub position: &'a dyn Fn(Position) -> String,
    /// The seed of a run index, if known.
    pub seed: &'a dyn Fn(u64) -> Option<u64>,
}

impl OrderCycle {
    /// Whether this is lockdep's "possible recursive locking" (one class taken twice).
    pub fn is_recursive(&self) -> bool {
        self.edges.len() == 1
    }

    /// The report in lockdep's shape and wording (v4.13 `print_circular_bug()`,
    /// `print_deadlock_bug()`), with where each dependency was first seen instead of a stack.
    pub fn report(&self, names: &ReportNames) -> String {
        use std::fmt::Write as _;
        let class = |n: &OrderNode| {
            let nested = if n.subclass > 0 { format!("/{}", n.subclass) } else { String::new() };
            format!("{}{}", (names.class)(n.class), nested)
        };
        let lock = |n: &OrderNode| format!("({}){{{}}}", class(n), n.mode.letter());
        let seen_at = |seen: &EdgeSeen| {
            let seed = (names.seed)(seen.run).map_or(String::new(), |seed| format!(", seed {seed}"));
            format!(
                "first seen in {} at {} (run {}{seed}), seen {} time{}",
                seen.task,
                crate::time::format_ns(seen.time_ns),
                seen.run,
                seen.count,
                if seen.count == 1 { "" } else { "s" }
            )
        };
        let (held, acquiring, seen) = &self.edges[0];
        let mut s = String::new();
        let title = if self.is_recursive() {
            "WARNING: possible recursive locking detected"
        } else {
            "WARNING: possible circular locking dependency detected"
        };
        let _ = writeln!(s, "{}", "=".repeat(title.len()));
        let _ = writeln!(s, "{title}");
        let _ = writeln!(s, "{}", "-".repeat(title.len()));
        let _ = writeln!(s, "{} is trying to acquire lock:", seen.task);
        let _ = writeln!(
            s,
            " {}, at: {}
",
            lock(acquiring),
            (names.position)(seen.acquired_at)
        );
        let _ = writeln!(s, "but task is already holding lock:");
        let _ = writeln!(
            s,
            " {}, at: {}
",
            lock(held),
            (names.position)(seen.held_at)
        );
        if self.is_recursive() {
            let _ = writeln!(
                s,
                "({})
",
                seen_at(seen)
            );
            let _ = writeln!(s, "other info that might help us debug this:");
            let _ = writeln!(
                s,
                " Possible unsafe locking scenario:
"
            );
            let _ = writeln!(s, "       CPU0");
            let _ = writeln!(s, "       ----");
            let _ = writeln!(s, "  lock({});", class(held));
            let _ = writeln!(s, "  lock({});", class(acquiring));
            let _ = writeln!(
                s,
                "
 *** DEADLOCK ***
"
            );
            let _ = writeln!(
                s,
                " May be due to missing lock nesting notation
"
            );
            return s;
        }
        let _ = writeln!(
            s,
            "which lock already depends on the new lock.
"
        );
        let _ = writeln!(
            s,
            "
the existing dependency chain (in reverse order) is:
"
        );
        // The chain runs from the new lock (#0, taken now) through the existing dependencies to
        // the held lock (#n-1); entry #k is the lock the k-th dependency leads into.
        let n = self.edges.len();
        for k in (0..n).rev() {
            let (from, into, seen) = &self.edges[k];
            let _ = writeln!(s, "-> #{k} {}:", lock(into));
            let _ = writeln!(
                s,
                "       taken at {} holding {} (held since {})",
                (names.position)(seen.acquired_at),
                lock(from),
                (names.position)(seen.held_at)
            );
            let _ = writeln!(
                s,
                "       {}
",
                seen_at(seen)
            );
        }
        let _ = writeln!(
            s,
            "other info that might help us debug this:
"
        );
        // print_circular_lock_scenario(): source is the new lock's chain end, target the held lock.
        let target = class(held);
        let source = class(acquiring);
        let parent = class(&self.edges[n - 1].0);
        if n > 2 {
            let _ = writeln!(
                s,
                "Chain exists of:
  {source} --> {parent} --> {target}
"
            );
        }
        let _ = writeln!(
            s,
            " Possible unsafe locking scenario:
"
        );
        let _ = writeln!(s, "       CPU0                    CPU1");
        let _ = writeln!(s, "       ----                    ----");
        let _ = writeln!(s, "  lock({target});");
        let _ = writeln!(s, "                               lock({parent});");
        let _ = writeln!(s, "                               lock({target});");
        let _ = writeln!(s, "  lock({source});");
        let _ = writeln!(
            s,
            "
 *** DEADLOCK ***"
        );
        s
    }

    /// The classes of the cycle in order from the held lock, e.g. `a(W) -> b/1(W) -> a`.
    pub fn chain(&self, class_name: impl Fn(ClassId) -> String) -> String {
        let name = |n: &OrderNode| {
            let nested = if n.subclass > 0 { format!("/{}", n.subclass) } else { String::new() };
            format!("{}{nested}", class_name(n.class))
        };
        let mut parts: Vec<String> =
            self.edges.iter().map(|(a, _, _)| format!("{}({})", name(a), a.mode.letter())).collect();
        parts.push(name(&self.edges[0].0));
        parts.join(" -> ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(class: ClassId, mode: Mode) -> OrderNode {
        OrderNode { class, subclass: 0, mode }
    }

    fn seen(run: u64) -> EdgeSeen {
        let pos = Position { script: 0, step: 0 };
        EdgeSeen { run, time_ns: 0, task: "t".into(), held_at: pos, acquired_at: pos, count: 1 }
    }

    #[test]
    fn abba_from_two_separate_graphs_is_a_cycle_once_merged() {
        let mut run1 = LockOrder::default();
        run1.record(node(0, Mode::Write), node(1, Mode::Write), || seen(1));
        let mut run2 = LockOrder::default();
        run2.record(node(1, Mode::Write), node(0, Mode::Write), || seen(2));
        assert!(run1.cycles(|_| LockKind::Mutex).is_empty());
        assert!(run2.cycles(|_| LockKind::Mutex).is_empty());
        run1.merge(&run2);
        let cycles = run1.cycles(|_| LockKind::Mutex);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].edges.len(), 2);
    }

    #[test]
    fn lockdep_sees_srcu_as_unchecked_percpu_reads_as_read_and_v412_reads_as_recursive() {
        use LockdepAcquire::*;
        assert_eq!(LockdepAcquire::of(LockKind::Srcu, Mode::Read), Unchecked);
        assert_eq!(LockdepAcquire::of(LockKind::PercpuRwsem, Mode::Read), Read);
        assert_eq!(LockdepAcquire::of(LockKind::PercpuRwsem, Mode::Write), Write);
        assert_eq!(LockdepAcquire::of(LockKind::RefcountHotplug, Mode::Read), RecursiveRead);
        assert_eq!(LockdepAcquire::of(LockKind::Mutex, Mode::Write), Write);
    }

    #[test]
    fn a_self_edge_is_possible_recursive_locking() {
        let mut g = LockOrder::default();
        g.record(node(0, Mode::Read), node(0, Mode::Read), || seen(0));
        let cycles = g.cycles(|_| LockKind::Mutex);
        assert_eq!(cycles.len(), 1);
        assert!(cycles[0].is_recursive());
        let names =
            ReportNames { class: &|_| "cpu_hotplug_lock".into(), position: &|_| "p".into(), seed: &|_| Some(7) };
        let report = cycles[0].report(&names);
        assert!(report.contains("WARNING: possible recursive locking detected"), "{report}");
        assert!(report.contains("May be due to missing lock nesting notation"), "{report}");
    }

    #[test]
    fn the_closing_edge_reports_the_shortest_chain_back() {
        // 1 -> 2 -> 3 -> 0 and 1 -> 0 exist; 0 -> 1 closes both 0 1 2 3 and 0 1: the shorter.
        let mut g = LockOrder::default();
        let w = |c| node(c, Mode::Write);
        let at = |time_ns| EdgeSeen { time_ns, ..seen(0) };
        g.record(w(1), w(2), || at(1));
        g.record(w(2), w(3), || at(2));
        g.record(w(3), w(0), || at(3));
        g.record(w(1), w(0), || at(4));
        g.record(w(0), w(1), || at(5));
        let cycles = g.cycles(|_| LockKind::Mutex);
        assert_eq!(cycles.len(), 1);
        let classes: Vec<_> = cycles[0].edges.iter().map(|(a, b, _)| (a.class, b.class)).collect();
        assert_eq!(classes, vec![(0, 1), (1, 0)]);
        let names = ReportNames { class: &|c| format!("L{c}"), position: &|_| "p".into(), seed: &|_| None };
        let report = cycles[0].report(&names);
        assert!(report.contains("WARNING: possible circular locking dependency detected"), "{report}");
        assert!(report.contains("-> #1 (L0){W}:") && report.contains("-> #0 (L1){W}:"), "{report}");
        assert!(!report.contains("Chain exists of"), "a direct inversion has no chain line: {report}");
    }

    #[test]
    fn a_dependency_into_a_recursive_read_is_checked_but_not_stored() {
        // v4.12: get_online_cpus() (class 0, read == 2) under 1 closes 0 -> 1, but the
        // dependency 1 -> 0 is not stored, so 0 -> 1 -> 0 via it is never reported again.
        let kind = |c: ClassId| if c == 0 { LockKind::RefcountHotplug } else { LockKind::Mutex };
        let mut g = LockOrder::default();
        g.record(node(0, Mode::Write), node(1, Mode::Write), || seen(0));
        g.record(node(1, Mode::Write), node(0, Mode::Read), || seen(1));
        assert_eq!(g.cycles(kind).len(), 1, "checked: the chain 0 -> 1 exists");
        let mut g = LockOrder::default();
        g.record(node(1, Mode::Write), node(0, Mode::Read), || seen(0));
        g.record(node(0, Mode::Write), node(1, Mode::Write), || seen(1));
        assert!(g.cycles(kind).is_empty(), "not stored: nothing leads from 1 to 0 afterwards");
    }

    #[test]
    fn a_dependency_already_known_in_another_mode_reports_nothing_new() {
        let mut g = LockOrder::default();
        g.record(node(0, Mode::Write), node(1, Mode::Write), || seen(0));
        g.record(node(1, Mode::Write), node(0, Mode::Write), || seen(1));
        g.record(node(1, Mode::Write), node(0, Mode::Read), || seen(2));
        assert_eq!(g.cycles(|_| LockKind::Mutex).len(), 1);
    }

    #[test]
    fn a_longer_chain_names_source_parent_and_target() {
        let mut g = LockOrder::default();
        let w = |c| node(c, Mode::Write);
        g.record(w(1), w(2), || seen(0));
        g.record(w(2), w(0), || seen(1));
        g.record(w(0), w(1), || seen(2));
        let cycles = g.cycles(|_| LockKind::Mutex);
        let names = ReportNames { class: &|c| format!("L{c}"), position: &|_| "p".into(), seed: &|_| None };
        let report = cycles[0].report(&names);
        // Held L0, taking L1: L1 -> L2 -> L0 exists.
        assert!(report.contains("Chain exists of:\n  L1 --> L2 --> L0"), "{report}");
        assert!(report.contains("-> #2 (L0){W}:") && report.contains("-> #1 (L2){W}:"), "{report}");
    }

    #[test]
    fn a_same_class_edge_inside_a_longer_cycle_is_not_walked_twice() {
        let mut g = LockOrder::default();
        g.record(node(0, Mode::Write), node(1, Mode::Read), || seen(0));
        g.record(node(1, Mode::Read), node(1, Mode::Read), || seen(0));
        g.record(node(1, Mode::Read), node(0, Mode::Write), || seen(0));
        let mut lengths: Vec<usize> = g.cycles(|_| LockKind::Mutex).iter().map(|c| c.edges.len()).collect();
        lengths.sort();
        assert_eq!(lengths, vec![1, 2]);
    }

    #[test]
    fn edge_keys_sort_as_node_pairs() {
        let mut nodes = Vec::new();
        for class in [0, 1, 255, 256, ClassId::MAX] {
            for subclass in [0, 1, u8::MAX] {
                for mode in [Mode::Read, Mode::Write] {
                    nodes.push(OrderNode { class, subclass, mode });
                }
            }
        }
        for &a in &nodes {
            for &b in &nodes {
                for &c in &nodes {
                    assert_eq!(edge_key(a, b).cmp(&edge_key(a, c)), (a, b).cmp(&(a, c)));
                    assert_eq!(edge_key(a, c).cmp(&edge_key(b, c)), (a, c).cmp(&(b, c)));
                }
            }
        }
    }

    #[test]
    fn edges_are_listed_in_held_then_acquiring_order_and_counted() {
        let mut g = LockOrder::default();
        let pairs = [(2, 0), (0, 3), (2, 1), (0, 1), (1, 0), (0, 3)];
        for (held, acquiring) in pairs {
            g.record(node(held, Mode::Write), node(acquiring, Mode::Read), || seen(0));
        }
        let listed: Vec<_> = g.edges().map(|(a, b, s)| (a.class, b.class, s.count)).collect();
        assert_eq!(listed, vec![(0, 1, 1), (0, 3, 2), (1, 0, 1), (2, 0, 1), (2, 1, 1)]);
    }

    /// The edge cache is a hint only: with far more edges than slots (so slots collide and
    /// inserts shift indices), every edge's count and first sighting match a plain map's.
    #[test]
    fn counts_and_first_sightings_match_a_map_whatever_the_cache_holds() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut g = LockOrder::default();
        let mut want = std::collections::BTreeMap::new();
        for i in 0..20_000u64 {
            // A few hot edges and a long tail, as a run's acquisitions have.
            let spread = if rng.random_bool(0.8) { 4 } else { 40 };
            let held = node(rng.random_range(0..spread), Mode::Write);
            let acquiring =
                node(rng.random_range(0..spread), if rng.random_bool(0.5) { Mode::Read } else { Mode::Write });
            g.record(held, acquiring, || seen(i));
            want.entry((held, acquiring)).or_insert((i, 0)).1 += 1;
        }
        let got: Vec<_> = g.edges().map(|(a, b, s)| ((*a, *b), (s.run, s.count))).collect();
        let want: Vec<_> = want.into_iter().collect();
        assert!(got.len() > 4 * EDGE_CACHE_SLOTS, "the test needs more edges than cache slots");
        assert_eq!(got, want);
    }

    #[test]
    fn nested_subclass_breaks_a_same_class_cycle() {
        let mut g = LockOrder::default();
        let nested = OrderNode { class: 0, subclass: 1, mode: Mode::Write };
        g.record(node(0, Mode::Write), nested, || seen(0));
        assert!(g.cycles(|_| LockKind::Mutex).is_empty());
    }
}
