//! Lock-order analysis in lockdep's manner: every class-level "held A, acquiring B" edge with
//! its modes and where it was first seen; every cycle in that graph is a possible deadlock,
//! whether or not a run deadlocked.

use std::collections::BTreeMap;

use crate::locks::{LockKind, Mode};
use crate::script::{ClassId, Position};

/// Most cycles one analysis reports; past it the report says it stopped.
pub const MAX_REPORTED_CYCLES: usize = 64;

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
        match self.keys.binary_search(&key) {
            Ok(index) => self.edges[index].2.count += 1,
            Err(index) => {
                self.keys.insert(index, key);
                self.edges.insert(index, (held, acquiring, seen()));
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
                }
            }
        }
    }

    /// Inserts an edge as another graph saw it (for graphs read back from a file).
    pub fn insert(&mut self, held: OrderNode, acquiring: OrderNode, seen: EdgeSeen) {
        let one = LockOrder { keys: vec![edge_key(held, acquiring)], edges: vec![(held, acquiring, seen)] };
        self.merge(&one);
    }

    /// Every elementary cycle of classes (up to [`MAX_REPORTED_CYCLES`]) whose edges can
    /// really wait on each other, given each class's kind (`kind_of`).
    pub fn cycles(&self, kind_of: impl Fn(ClassId) -> LockKind) -> Vec<OrderCycle> {
        type Key = (ClassId, u8);
        let key = |n: &OrderNode| (n.class, n.subclass);
        let mut out: BTreeMap<Key, Vec<(&OrderNode, &OrderNode, &EdgeSeen)>> = BTreeMap::new();
        for (a, b, seen) in &self.edges {
            out.entry(key(a)).or_default().push((a, b, seen));
        }
        let mut cycles = Vec::new();
        let starts: Vec<Key> = out.keys().copied().collect();
        for &start in &starts {
            let mut path: Vec<(&OrderNode, &OrderNode, &EdgeSeen)> = Vec::new();
            self.search(start, start, &out, &kind_of, &mut path, &mut cycles);
            if cycles.len() >= MAX_REPORTED_CYCLES {
                cycles.truncate(MAX_REPORTED_CYCLES);
                break;
            }
        }
        cycles
    }

    #[allow(clippy::type_complexity)]
    fn search<'a>(
        &'a self,
        start: (ClassId, u8),
        at: (ClassId, u8),
        out: &BTreeMap<(ClassId, u8), Vec<(&'a OrderNode, &'a OrderNode, &'a EdgeSeen)>>,
        kind_of: &impl Fn(ClassId) -> LockKind,
        path: &mut Vec<(&'a OrderNode, &'a OrderNode, &'a EdgeSeen)>,
        cycles: &mut Vec<OrderCycle>,
    ) {
        if cycles.len() >= MAX_REPORTED_CYCLES {
            return;
        }
        let Some(edges) = out.get(&at) else { return };
        for &(held, acquiring, seen) in edges {
            // The class entered by the previous edge must conflict with how this edge holds it.
            if let Some(&(_, prev_acq, _)) = path.last()
                && !conflicts(kind_of(at.0), prev_acq.mode, held.mode)
            {
                continue;
            }
            let next = (acquiring.class, acquiring.subclass);
            if next == start {
                let first_held = path.first().map_or(held, |&(h, _, _)| h);
                if conflicts(kind_of(start.0), acquiring.mode, first_held.mode) {
                    let mut edges: Vec<_> = path.iter().map(|&(a, b, s)| (*a, *b, s.clone())).collect();
                    edges.push((*held, *acquiring, seen.clone()));
                    // One report per class cycle: skip mode variants of a cycle already found.
                    let classes: Vec<_> = edges.iter().map(|(a, _, _)| (a.class, a.subclass)).collect();
                    if !cycles.iter().any(|c: &OrderCycle| {
                        c.edges.iter().map(|(a, _, _)| (a.class, a.subclass)).collect::<Vec<_>>() == classes
                    }) {
                        cycles.push(OrderCycle { edges });
                    }
                }
                continue;
            }
            // Canonical start: the smallest class of the cycle; never revisit a class (a
            // same-class edge is a cycle of its own, found from its class).
            if next < start || next == at || path.iter().any(|&(a, _, _)| (a.class, a.subclass) == next) {
                continue;
            }
            path.push((held, acquiring, seen));
            self.search(start, next, out, kind_of, path, cycles);
            path.pop();
        }
    }
}

/// Whether a task waiting to take a class in mode `acquiring` can be blocked by a task holding
/// it in mode `held`. A percpu_rwsem reader blocks behind a pending writer, so read-read
/// conflicts there; SRCU readers never wait, only `synchronize_srcu` (a write) waits on them.
pub fn conflicts(kind: LockKind, acquiring: Mode, held: Mode) -> bool {
    match kind {
        LockKind::Mutex | LockKind::Spinlock | LockKind::PercpuRwsem | LockKind::LockdepMap => true,
        LockKind::Srcu => acquiring == Mode::Write && held == Mode::Read,
        // `get_online_cpus()` inside a read never waits: readers block only on a holding writer.
        LockKind::RefcountHotplug => acquiring == Mode::Write || held == Mode::Write,
    }
}

impl OrderCycle {
    /// lockdep's "possible circular locking dependency" report: the chain of edges, each with
    /// the task and script positions where it was first seen.
    pub fn report(&self, class_name: impl Fn(ClassId) -> String, position_name: impl Fn(Position) -> String) -> String {
        use std::fmt::Write as _;
        let node = |n: &OrderNode| {
            let nested = if n.subclass > 0 { format!("/{}", n.subclass) } else { String::new() };
            format!("{}{}({})", class_name(n.class), nested, n.mode.letter())
        };
        let mut s = String::new();
        let _ = writeln!(s, "{}", "=".repeat(54));
        let _ = writeln!(s, "WARNING: possible circular locking dependency detected");
        let _ = writeln!(s, "{}", "-".repeat(54));
        let chain: Vec<String> = self.edges.iter().map(|(a, _, _)| node(a)).collect();
        let _ = writeln!(s, "Chain exists of:\n  {} --> {}\n", chain.join(" --> "), chain[0]);
        let _ = writeln!(s, "the existing dependency chain is:");
        for (i, (held, acquiring, seen)) in self.edges.iter().enumerate() {
            let _ = writeln!(
                s,
                "-> #{i} {} then {}: first by {} in run {} at {} (held since {}, acquired at {}), seen {} times",
                node(held),
                node(acquiring),
                seen.task,
                seen.run,
                crate::time::format_ns(seen.time_ns),
                position_name(seen.held_at),
                position_name(seen.acquired_at),
                seen.count
            );
        }
        let _ = writeln!(s, "\n *** possible DEADLOCK ***");
        s
    }

    /// The classes of the cycle in order, e.g. `a(W) -> b(W) -> a`.
    pub fn chain(&self, class_name: impl Fn(ClassId) -> String) -> String {
        let mut parts: Vec<String> =
            self.edges.iter().map(|(a, _, _)| format!("{}({})", class_name(a.class), a.mode.letter())).collect();
        parts.push(class_name(self.edges[0].0.class));
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
    fn recursive_read_of_percpu_rwsem_is_a_cycle_but_of_srcu_is_not() {
        let mut g = LockOrder::default();
        g.record(node(0, Mode::Read), node(0, Mode::Read), || seen(0));
        assert_eq!(g.cycles(|_| LockKind::PercpuRwsem).len(), 1);
        assert!(g.cycles(|_| LockKind::Srcu).is_empty());
    }

    #[test]
    fn synchronize_srcu_under_a_mutex_taken_inside_a_read_section_is_a_cycle() {
        let mut g = LockOrder::default();
        // srcu R held, mutex acquired; mutex held, synchronize_srcu (srcu W).
        g.record(node(0, Mode::Read), node(1, Mode::Write), || seen(0));
        g.record(node(1, Mode::Write), node(0, Mode::Write), || seen(0));
        let kind = |c: ClassId| {
            if c == 0 { LockKind::Srcu } else { LockKind::Mutex }
        };
        assert_eq!(g.cycles(kind).len(), 1);
    }

    #[test]
    fn a_same_class_edge_inside_a_longer_cycle_is_not_walked_twice() {
        let mut g = LockOrder::default();
        g.record(node(0, Mode::Write), node(1, Mode::Read), || seen(0));
        g.record(node(1, Mode::Read), node(1, Mode::Read), || seen(0));
        g.record(node(1, Mode::Read), node(0, Mode::Write), || seen(0));
        let kind = |c: ClassId| if c == 1 { LockKind::PercpuRwsem } else { LockKind::Mutex };
        let mut lengths: Vec<usize> = g.cycles(kind).iter().map(|c| c.edges.len()).collect();
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

    #[test]
    fn nested_subclass_breaks_a_same_class_cycle() {
        let mut g = LockOrder::default();
        let nested = OrderNode { class: 0, subclass: 1, mode: Mode::Write };
        g.record(node(0, Mode::Write), nested, || seen(0));
        assert!(g.cycles(|_| LockKind::Mutex).is_empty());
    }
}
