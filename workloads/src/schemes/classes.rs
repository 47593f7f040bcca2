//! The lock classes every scheme uses, in a fixed order (their `ClassId`s).

use sim::kernel::LockClassDef;
use sim::locks::LockKind;
use sim::script::{ClassId, Layout};

/// `(name, kind, layout)` of each class, in `ClassId` order.
pub const CLASSES: [(&str, LockKind, Layout); 10] = [
    ("cpu_add_remove_lock", LockKind::Mutex, Layout::Global),
    ("cpu_hotplug_lock", LockKind::PercpuRwsem, Layout::Global),
    ("pmus_lock", LockKind::Mutex, Layout::Global),
    ("pmus_srcu", LockKind::Srcu, Layout::Global),
    ("ctx->mutex", LockKind::Mutex, Layout::Ctx),
    ("event_mutex", LockKind::Mutex, Layout::Global),
    ("tracepoints_mutex", LockKind::Mutex, Layout::Global),
    ("jump_label_mutex", LockKind::Mutex, Layout::Global),
    ("event->child_mutex", LockKind::Mutex, Layout::PerTask),
    ("dev->mutex", LockKind::Mutex, Layout::PerPmu),
];

/// The id of a class by name.
pub fn class_id(name: &str) -> Option<ClassId> {
    CLASSES.iter().position(|(n, _, _)| *n == name).map(|i| i as ClassId)
}

pub fn class_table() -> Vec<LockClassDef> {
    CLASSES.iter().map(|&(name, kind, layout)| LockClassDef { name: name.into(), kind, layout }).collect()
}
