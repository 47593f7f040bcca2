//! IPIs: a script's `smp_call_function_single()`, the handler queue of each target CPU, and
//! what perf's handlers (`__perf_install_in_context()`, `__perf_remove_from_context()`) do.

use super::interpreter::Flow;
use super::task::PendingIpi;
use super::{EV_IPI_HANDLER, Invariant, Kernel};
use crate::engine::Scheduler;
use crate::event::Event;
use crate::locks::TaskId;
use crate::script::{CpuRef, IpiHandler, PmuRef, Position};

impl Kernel {
    /// Sends an IPI to `cpu` and waits for its handler: half a round trip there, the handlers
    /// queued before it on that CPU, its own, and half a round trip back. An install IPI to an
    /// offline CPU returns `-ENXIO` and the open goes ahead: invariant 7 if perf regarded the
    /// CPU as online (the early-online window), else invariant 4.
    pub(super) fn ipi_step(
        &mut self,
        task: TaskId,
        cpu: CpuRef,
        handler: IpiHandler,
        at: Position,
        sched: &mut Scheduler,
    ) -> Flow {
        let target = self.resolve_cpu(task, cpu);
        if !self.online.test(target) {
            if handler == IpiHandler::InstallEvent {
                let args = self.op(task).args;
                let event = args.event;
                if self.open_sees_online(task, target, args.pmu) {
                    let what = format!(
                        "perf_event_open of event {event} on cpu {target} returned success with the event in no \
                         context: perf regarded the cpu as online, the install IPI returned -ENXIO"
                    );
                    self.violation(Invariant::NoSilentlyFailedOpen, task, target, at, what, sched.now_ns());
                } else {
                    let what = format!(
                        "perf_event_open of event {event} went ahead on offline cpu {target}: the install IPI returned -ENXIO"
                    );
                    self.violation(Invariant::OpenOnlyOnUsableCpu, task, target, at, what, sched.now_ns());
                }
            }
            return Flow::Continue;
        }
        let now_ns = sched.now_ns();
        // smp_call_function_single() to the caller's own CPU calls the handler right there,
        // interrupts off: no round trip, no queue (cpuhp/N's exit on its CPU, an open on its own).
        let local = target == self.tasks[task as usize].cpu;
        let (half_trip_ns, back_trip_ns) = if local {
            (0, 0)
        } else {
            let half = self.costs.ipi_round_trip_ns / 2;
            (half, self.costs.ipi_round_trip_ns - half)
        };
        let queued_until_ns = if local { now_ns } else { self.ipi_busy_until_ns[target as usize] };
        let start_ns = (now_ns + half_trip_ns).max(queued_until_ns);
        let handler_ns = self.ipi_handler_cost(task, target, handler);
        let end_ns = start_ns + handler_ns;
        let busy = &mut self.ipi_busy_until_ns[target as usize];
        *busy = (*busy).max(end_ns);
        let back_ns = end_ns + back_trip_ns;
        let resume = Event::new(task, super::EV_RESUME, 0);
        // The handler's event would be the run's next: take it in place, its resume queued
        // first as it would have been (same clock, sequence numbers and event count).
        if sched.advance_in_place(start_ns - now_ns) {
            sched.schedule_at(back_ns, resume);
            self.run_ipi_handler(task, target, handler, at, sched);
            return Flow::Stop;
        }
        self.tasks[task as usize].ipi = Some(PendingIpi { cpu: target, handler, at });
        sched.schedule_at(start_ns, Event::new(task, EV_IPI_HANDLER, 0));
        sched.schedule_at(back_ns, resume);
        Flow::Stop
    }

    /// A handler's cost, reserved on the target CPU when the IPI is sent.
    fn ipi_handler_cost(&mut self, task: TaskId, cpu: u32, handler: IpiHandler) -> u64 {
        match handler {
            IpiHandler::Work(cost) => self.draw(task, cost),
            IpiHandler::InstallEvent => self.costs.ipi_install_ns,
            IpiHandler::RemoveEvent => self.costs.ipi_remove_per_event_ns,
            IpiHandler::RemoveEvents => {
                let pmu = self.resolve_pmu(task, PmuRef::Loop);
                self.perf.events_on(cpu, pmu).len() as u64 * self.costs.ipi_remove_per_event_ns
            }
        }
    }

    /// An IPI handler's effect on the target CPU when it runs, with the checks of invariants
    /// 1, 3 and 4 (docs/model.md §6.1).
    pub(super) fn run_ipi_handler(
        &mut self,
        task: TaskId,
        cpu: u32,
        handler: IpiHandler,
        at: Position,
        sched: &mut Scheduler,
    ) {
        let now_ns = sched.now_ns();
        let args = self.op(task).args;
        match handler {
            IpiHandler::Work(_) => {}
            IpiHandler::InstallEvent => {
                self.check_install(task, cpu, args.pmu, args.event, at, now_ns);
                self.perf.install(args.event, cpu, args.pmu);
            }
            IpiHandler::RemoveEvent => {
                self.perf.remove(args.event);
            }
            IpiHandler::RemoveEvents => {
                let pmu = self.resolve_pmu(task, PmuRef::Loop);
                self.events_removed_by_hotplug += self.perf.events_on(cpu, pmu).len() as u64;
                self.perf.remove_all(cpu, pmu);
                if let Some(load) = &mut self.pmu {
                    for (event, error) in load.remove_ctx_events(cpu, pmu, now_ns) {
                        let what = format!("PMU event {event} on cpu {cpu} read {error} events off its ground truth");
                        self.violation(Invariant::CountsMatchGroundTruth, task, cpu, at, what, now_ns);
                    }
                }
            }
        }
        self.pmu_reschedule(cpu as usize, sched);
    }
}
