//! The text form of lock scripts: what users write in scenario files and `schemes --print` shows.
//!
//! One step per line (`;` also separates steps, `#` starts a comment), blocks in `{ … }`;
//! [`print_steps`] and [`parse_steps`] round-trip exactly.

use super::{
    ClassId, Cond, Cost, CounterId, CounterLayout, CounterRef, CpuRef, Errno, Flag, InitFrom, IpiHandler, Layout,
    LockRef, MAX_SCRIPT_DEPTH, Mark, PlacementError, PmuFilter, PmuRef, ScriptEnv, ScriptId, Step, SyncKind, TaskSlot,
};
use crate::locks::Mode;
use crate::time::{MAX_COST_NS, Nanos};

/// A lock class as the text form needs it: its name and layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassInfo<'a> {
    pub name: &'a str,
    pub layout: Layout,
}

/// A counter as the text form needs it: its name and layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterInfo<'a> {
    pub name: &'a str,
    pub layout: CounterLayout,
}

/// The names a script may use: lock classes (index = `ClassId`) and counters (index = `CounterId`).
#[derive(Clone, Copy, Debug)]
pub struct Names<'a> {
    pub classes: &'a [ClassInfo<'a>],
    pub counters: &'a [CounterInfo<'a>],
    /// Operation names (index = `ScriptId`), for `kick_ap`.
    pub scripts: &'a [&'a str],
}

/// Why [`parse_steps`] rejected a script, and where: lines and columns count from 1, in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

const CPU_WORDS: [(&str, CpuRef); 5] = [
    ("cpu", CpuRef::Arg),
    ("this_cpu", CpuRef::Current),
    ("target", CpuRef::Target),
    ("lower", CpuRef::Lower),
    ("higher", CpuRef::Higher),
];
const PMU_WORDS: [(&str, PmuRef); 2] = [("pmu", PmuRef::Arg), ("loop_pmu", PmuRef::Loop)];
const HANDLER_WORDS: [(&str, IpiHandler); 3] = [
    ("install_event", IpiHandler::InstallEvent),
    ("remove_event", IpiHandler::RemoveEvent),
    ("remove_events", IpiHandler::RemoveEvents),
];
const INIT_WORDS: [(&str, InitFrom); 3] = [
    ("cpu_online", InitFrom::CpuOnline),
    ("perf_online_mask", InitFrom::PerfOnline),
    ("all_possible", InitFrom::AllPossible),
];
const MARK_WORDS: [(&str, Mark); 3] = [
    ("perf_exit_done", Mark::PerfExitDone),
    ("perf_init_start", Mark::PerfInitStart),
    ("cpu_up_done", Mark::CpuUpDone),
];
const STEP_WORDS: [&str; 24] = [
    "lock",
    "unlock",
    "work",
    "ipi",
    "check",
    "set",
    "clear",
    "synchronize_srcu",
    "synchronize_rcu",
    "synchronize_rcu_expedited",
    "stop_machine",
    "move_events",
    "adopt_uncore",
    "register_pmu",
    "unregister_pmu",
    "mark",
    "repeat",
    "for_each_pmu",
    "for_each_handoff",
    "for_each_child",
    "inc",
    "dec",
    "if",
    "kick_ap",
];

const CPU_WHAT: &str = "a CPU (cpu, this_cpu, target, lower, higher or a number)";
const PMU_WHAT: &str = "a PMU (pmu or loop_pmu)";
const DURATION_WHAT: &str = "a duration (like 300ns, 5us, 1.5ms or 10s)";

/// A mark's word in the text form (`perf_exit_done`).
pub fn mark_word(mark: Mark) -> &'static str {
    word_of(&MARK_WORDS, mark)
}

fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table.iter().find(|(w, _)| *w == word).map(|&(_, v)| v)
}

fn word_of<T: Copy + PartialEq>(table: &[(&'static str, T)], value: T) -> &'static str {
    table.iter().find(|(_, v)| *v == value).map_or("?", |(w, _)| w)
}

/// Prints steps, one per line, nested blocks indented by 4 spaces, `indent` levels deep.
pub fn print_steps(steps: &[Step], names: &Names<'_>, indent: usize) -> String {
    let mut out = String::new();
    print_into(&mut out, steps, names, indent);
    out
}

fn print_into(out: &mut String, steps: &[Step], names: &Names<'_>, indent: usize) {
    let pad = "    ".repeat(indent);
    for step in steps {
        if let Step::If { cond, then, otherwise } = step {
            out.push_str(&format!("{pad}if {} {{\n", cond_text(*cond, names)));
            print_into(out, then, names, indent + 1);
            if !otherwise.is_empty() {
                out.push_str(&format!("{pad}}} else {{\n"));
                print_into(out, otherwise, names, indent + 1);
            }
            out.push_str(&format!("{pad}}}\n"));
            continue;
        }
        let (line, body) = step_line(step, names);
        out.push_str(&pad);
        out.push_str(&line);
        match body {
            Some(body) => {
                out.push_str(" {\n");
                print_into(out, body, names, indent + 1);
                out.push_str(&pad);
                out.push_str("}\n");
            }
            None => out.push('\n'),
        }
    }
}

/// A step's line (a block's header) and, for a block, its body.
fn step_line<'s>(step: &'s Step, names: &Names<'_>) -> (String, Option<&'s [Step]>) {
    let line = match step {
        Step::Lock { lock, mode, nested } => {
            let mode = if *mode == Mode::Read { " read" } else { "" };
            let nested = if *nested { " nested" } else { "" };
            format!("lock {}{mode}{nested}", lock_text(*lock, names))
        }
        Step::Unlock { lock } => format!("unlock {}", lock_text(*lock, names)),
        Step::Work(cost) => format!("work {}", cost_text(*cost)),
        Step::Ipi { cpu, handler } => format!("ipi {} {}", cpu_text(*cpu), handler_text(*handler)),
        Step::Check { flag, errno, otherwise } => {
            let line = format!("check {} else {}", flag_text(*flag), errno.as_str());
            return (line, (!otherwise.is_empty()).then_some(otherwise.as_slice()));
        }
        Step::Set { flag, value: true } => format!("set {}", flag_text(*flag)),
        Step::Set { flag, value: false } => format!("clear {}", flag_text(*flag)),
        Step::Synchronize(SyncKind::Srcu(lock)) => format!("synchronize_srcu {}", lock_text(*lock, names)),
        Step::Synchronize(SyncKind::Rcu) => "synchronize_rcu".into(),
        Step::Synchronize(SyncKind::RcuExpedited) => "synchronize_rcu_expedited".into(),
        Step::StopMachine => "stop_machine".into(),
        Step::Repeat { times, body } => return (format!("repeat {times}"), Some(body)),
        Step::ForEachPmu { filter, body } => {
            let header = match filter {
                PmuFilter::All => "for_each_pmu",
                PmuFilter::Core => "for_each_pmu core",
                PmuFilter::Uncore => "for_each_pmu uncore",
            };
            return (header.into(), Some(body));
        }
        Step::ForEachHandoff { body } => return ("for_each_handoff".into(), Some(body)),
        Step::MoveEvents => "move_events".into(),
        Step::AdoptUncore => "adopt_uncore".into(),
        Step::RegisterPmu { init } => format!("register_pmu {}", word_of(&INIT_WORDS, *init)),
        Step::UnregisterPmu => "unregister_pmu".into(),
        Step::Mark(mark) => format!("mark {}", word_of(&MARK_WORDS, *mark)),
        Step::Inc(counter) => format!("inc {}", counter_text(*counter, names)),
        Step::Dec(counter) => format!("dec {}", counter_text(*counter, names)),
        Step::If { cond, then, .. } => return (format!("if {}", cond_text(*cond, names)), Some(then)),
        Step::ForEachChild { body } => return ("for_each_child".into(), Some(body)),
        Step::KickAp { script } => {
            format!("kick_ap {}", names.scripts.get(*script as usize).copied().unwrap_or("<unknown script>"))
        }
    };
    (line, None)
}

/// A step's line as [`print_steps`] writes it; for a block, its header.
pub fn step_text(step: &Step, names: &Names<'_>) -> String {
    step_line(step, names).0
}

fn cpu_text(cpu: CpuRef) -> String {
    match cpu {
        CpuRef::Fixed(n) => n.to_string(),
        other => word_of(&CPU_WORDS, other).to_string(),
    }
}

fn pmu_text(pmu: PmuRef) -> &'static str {
    word_of(&PMU_WORDS, pmu)
}

/// [`super::verify_balanced`] with locks named as this text form writes them (`pmus_lock`).
pub fn verify_balanced_text(steps: &[Step], names: &Names<'_>) -> Result<(), String> {
    super::verify_balanced_named(steps, &|lock| lock_text(lock, names))
}

/// [`super::verify_placement`] with locks named as this text form writes them.
pub fn verify_placement_text(steps: &[Step], names: &Names<'_>, env: &ScriptEnv<'_>) -> Result<(), PlacementError> {
    super::verify_placement(steps, env, &|lock| lock_text(lock, names))
}

fn lock_text(lock: LockRef, names: &Names<'_>) -> String {
    let name = names
        .classes
        .get(usize::from(lock.class()))
        .map_or_else(|| format!("unknown_class_{}", lock.class()), |c| c.name.to_string());
    match lock {
        LockRef::Global(_) => name,
        LockRef::PerCpu(_, cpu) => format!("{name}[{}]", cpu_text(cpu)),
        LockRef::Ctx(_, cpu, pmu) => format!("{name}[{}, {}]", cpu_text(cpu), pmu_text(pmu)),
        LockRef::PerPmu(_, pmu) => format!("{name}[{}]", pmu_text(pmu)),
        LockRef::PerTask(_, TaskSlot::Own) => format!("{name}[task]"),
        LockRef::PerTask(_, TaskSlot::Child) => format!("{name}[child]"),
    }
}

fn counter_text(counter: CounterRef, names: &Names<'_>) -> String {
    let name = names
        .counters
        .get(usize::from(counter.id))
        .map_or_else(|| format!("unknown_counter_{}", counter.id), |c| c.name.to_string());
    match counter.layout {
        CounterLayout::Global => name,
        CounterLayout::PerTracepoint => format!("{name}[tracepoint]"),
    }
}

fn cond_text(cond: Cond, names: &Names<'_>) -> String {
    match cond {
        Cond::Zero(counter) => format!("zero {}", counter_text(counter, names)),
        Cond::NonZero(counter) => format!("nonzero {}", counter_text(counter, names)),
        Cond::One(counter) => format!("one {}", counter_text(counter, names)),
        Cond::Set(flag) => flag_text(flag),
        Cond::Clear(flag) => format!("not {}", flag_text(flag)),
        Cond::CorePmu(pmu) => format!("core_pmu[{}]", pmu_text(pmu)),
        Cond::HasEvents(cpu, pmu) => format!("has_events[{}, {}]", cpu_text(cpu), pmu_text(pmu)),
    }
}

fn flag_text(flag: Flag) -> String {
    match flag {
        Flag::CpuOnline(cpu) => format!("cpu_online[{}]", cpu_text(cpu)),
        Flag::CtxOnline(cpu, pmu) => format!("ctx_online[{}, {}]", cpu_text(cpu), pmu_text(pmu)),
        Flag::PerfOnline(cpu) => format!("perf_online_mask[{}]", cpu_text(cpu)),
        Flag::Usable(cpu) => format!("usable[{}]", cpu_text(cpu)),
    }
}

fn handler_text(handler: IpiHandler) -> String {
    match handler {
        IpiHandler::Work(cost) => format!("work {}", cost_text(cost)),
        other => word_of(&HANDLER_WORDS, other).to_string(),
    }
}

/// `5us + 200ns*online_cpus + 1us*cpus`, in `exp(…)` when exponential; zero terms are left out
/// unless all are zero (`0ns`).
fn cost_text(cost: Cost) -> String {
    let mut terms = Vec::new();
    if cost.base_ns != 0 || (cost.per_online_cpu_ns == 0 && cost.per_possible_cpu_ns == 0) {
        terms.push(Nanos(cost.base_ns).to_string());
    }
    if cost.per_online_cpu_ns != 0 {
        terms.push(format!("{}*online_cpus", Nanos(cost.per_online_cpu_ns)));
    }
    if cost.per_possible_cpu_ns != 0 {
        terms.push(format!("{}*cpus", Nanos(cost.per_possible_cpu_ns)));
    }
    let sum = terms.join(" + ");
    if cost.exponential { format!("exp({sum})") } else { sum }
}

/// Parses the text form; class names are looked up in `classes` (index = ClassId).
pub fn parse_steps(text: &str, names: &Names<'_>) -> Result<Vec<Step>, ParseError> {
    parse_steps_located(text, names).map(|(steps, _)| steps)
}

/// Each step's `(line, column)`, in step order.
pub type Positions = Vec<(usize, usize)>;

/// [`parse_steps`], also giving each step's `(line, column)`, in the order
/// [`super::verify_balanced`] and [`super::verify_placement`] number steps.
pub fn parse_steps_located(text: &str, names: &Names<'_>) -> Result<(Vec<Step>, Positions), ParseError> {
    let mut parser = Parser { tokens: lex(text), pos: 0, names, positions: Vec::new() };
    let steps = parser.block(0, None)?;
    Ok((steps, parser.positions))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A name or keyword: letters, digits, `_`, and `->` between them (`ctx->mutex`).
    Word,
    /// Digits, an optional `.digits`, and an optional unit (`3`, `1.5ms`).
    Number,
    Punct(char),
    Newline,
    /// A character no token starts with; lexing stops there.
    Bad,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
    column: usize,
}

impl Token {
    fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    fn is_word(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text == word
    }

    fn describe(&self) -> String {
        match self.kind {
            Kind::Newline => "the end of the line".into(),
            Kind::End => "the end of the script".into(),
            _ => format!("`{}`", self.text),
        }
    }
}

/// Splits the text into tokens, always ending with [`Kind::End`].
fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let word_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut tokens = Vec::new();
    let (mut i, mut line, mut column) = (0, 1, 1);
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let kind = if c == '\n' {
            i += 1;
            Kind::Newline
        } else if c.is_whitespace() {
            i += 1;
            column += 1;
            continue;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
                column += 1;
            }
            continue;
        } else if word_start(c) {
            i += 1;
            loop {
                if word_char(at(i)) {
                    i += 1;
                } else if at(i) == '-' && at(i + 1) == '>' && word_start(at(i + 2)) {
                    i += 2;
                } else {
                    break;
                }
            }
            Kind::Word
        } else if c.is_ascii_digit() {
            while at(i).is_ascii_digit() {
                i += 1;
            }
            if at(i) == '.' && at(i + 1).is_ascii_digit() {
                i += 1;
                while at(i).is_ascii_digit() {
                    i += 1;
                }
            }
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Kind::Number
        } else if "[](){},;+*-".contains(c) {
            i += 1;
            Kind::Punct(c)
        } else {
            i += 1;
            Kind::Bad
        };
        tokens.push(Token { kind, text: chars[start..i].iter().collect(), line, column });
        if kind == Kind::Newline {
            line += 1;
            column = 1;
        } else {
            column += i - start;
        }
        if kind == Kind::Bad {
            break;
        }
    }
    tokens.push(Token { kind: Kind::End, text: String::new(), line, column });
    tokens
}

fn error(at: &Token, message: impl Into<String>) -> ParseError {
    let message = match at.kind {
        Kind::Bad => format!(
            "unexpected character `{}` (scripts use names, numbers, `[ ] ( ) {{ }} , ; + * -` and `#` comments)",
            at.text.escape_debug()
        ),
        _ => message.into(),
    };
    ParseError { line: at.line, column: at.column, message }
}

/// "expected WHAT, found TOKEN" and, for an index, `hint` saying how it is written.
fn expected(at: &Token, what: &str, hint: &str) -> ParseError {
    error(at, format!("expected {what}, found {}{hint}", at.describe()))
}

/// `a, b or c`.
fn one_of<'w>(words: impl IntoIterator<Item = &'w str>) -> String {
    let words: Vec<&str> = words.into_iter().collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_string(),
        None => String::new(),
    }
}

/// `global`, `per-CPU`, … and how a reference to the class is written.
fn layout_form(name: &str, layout: Layout) -> (&'static str, String) {
    match layout {
        Layout::Global => ("global", name.to_string()),
        Layout::PerCpu => ("per-CPU", format!("{name}[CPU]")),
        Layout::Ctx => ("per CPU and PMU", format!("{name}[CPU, PMU]")),
        Layout::PerPmu => ("per-PMU", format!("{name}[PMU]")),
        Layout::PerTask => ("per-task", format!("{name}[task|child]")),
    }
}

/// One term of a cost: a duration as [`Nanos`] reads it (`300ns`, `5us`, `1.5ms`, `10s`), at
/// most [`MAX_COST_NS`] so that [`Cost::mean_ns`] cannot overflow.
fn duration(t: &Token) -> Result<u64, ParseError> {
    if t.kind != Kind::Number {
        return Err(expected(t, DURATION_WHAT, ""));
    }
    let Nanos(ns) = t.text.parse::<Nanos>().map_err(|e| error(t, e.to_string()))?;
    if ns > MAX_COST_NS {
        return Err(error(
            t,
            format!("`{}` is too long for a cost (at most {}, one hour)", t.text, Nanos(MAX_COST_NS)),
        ));
    }
    Ok(ns)
}

/// A plain decimal number that fits a `u32`, or `None` when the token is not one.
fn whole_u32(t: &Token, what: &str) -> Option<Result<u32, ParseError>> {
    (t.kind == Kind::Number && t.text.bytes().all(|b| b.is_ascii_digit())).then(|| {
        t.text.parse().map_err(|_| error(t, format!("{what} `{}` is too large (at most {})", t.text, u32::MAX)))
    })
}

struct Parser<'a, 'b> {
    /// Never empty: the last token is [`Kind::End`], and `pos` never passes it.
    tokens: Vec<Token>,
    pos: usize,
    names: &'a Names<'b>,
    /// Where each step starts, in step order (a block's header before its body).
    positions: Positions,
}

impl Parser<'_, '_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek().is(c);
        if found {
            self.bump();
        }
        found
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.peek().is_word(word);
        if found {
            self.bump();
        }
        found
    }

    fn expect(&mut self, c: char, hint: &str) -> Result<(), ParseError> {
        let t = self.bump();
        if t.is(c) { Ok(()) } else { Err(expected(&t, &format!("`{c}`"), hint)) }
    }

    /// Steps up to the `}` closing the block opened at `opened_at`, or to the end of the script.
    fn block(&mut self, depth: usize, opened_at: Option<(usize, usize)>) -> Result<Vec<Step>, ParseError> {
        let mut steps = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                Kind::Newline | Kind::Punct(';') => {
                    self.bump();
                    continue;
                }
                Kind::End => {
                    return match opened_at {
                        Some((line, column)) => {
                            Err(error(t, format!("unclosed `{{` opened at line {line}, column {column}")))
                        }
                        None => Ok(steps),
                    };
                }
                Kind::Punct('}') => {
                    if opened_at.is_none() {
                        return Err(error(t, "unmatched `}`: no block is open here"));
                    }
                    self.bump();
                    return Ok(steps);
                }
                _ => {}
            }
            self.positions.push((t.line, t.column));
            steps.push(self.step(depth)?);
            let t = self.peek();
            match t.kind {
                Kind::Newline | Kind::Punct(';') => {
                    self.bump();
                }
                Kind::Punct('}') | Kind::End => {}
                _ => return Err(expected(t, "the end of the step (a new line, `;` or `}`)", "")),
            }
        }
    }

    /// The `{ … }` body of a block whose header `header` was just read.
    fn body(&mut self, depth: usize, header: &str) -> Result<Vec<Step>, ParseError> {
        let open = self.bump();
        if !open.is('{') {
            return Err(expected(&open, &format!("`{{` after `{header}`, on the same line"), ""));
        }
        if depth >= MAX_SCRIPT_DEPTH {
            return Err(error(&open, format!("blocks nest deeper than {MAX_SCRIPT_DEPTH} levels")));
        }
        self.block(depth + 1, Some((open.line, open.column)))
    }

    /// One step, by its keyword. Long because it is the grammar: one short arm per keyword,
    /// read top to bottom like the vocabulary in docs/model.md §4.1; split up, it would scatter.
    fn step(&mut self, depth: usize) -> Result<Step, ParseError> {
        let t = self.bump();
        if t.is('{') {
            return Err(error(
                &t,
                "`{` must be on the same line as the `repeat`, `for_each_pmu`, `for_each_handoff`, `for_each_child`, `if`, `else` or `check` it opens",
            ));
        }
        if t.kind != Kind::Word {
            return Err(expected(&t, "a step (lock, unlock, work, ipi, check, set, clear, …)", ""));
        }
        Ok(match t.text.as_str() {
            "lock" => {
                let lock = self.lock()?;
                let mode = if self.eat_word("read") {
                    Some(Mode::Read)
                } else if self.eat_word("write") {
                    Some(Mode::Write)
                } else {
                    None
                };
                let nested = self.eat_word("nested");
                let next = self.peek();
                if next.kind == Kind::Word && !nested {
                    let what = if mode.is_none() { "`read`, `write`, `nested`" } else { "`nested`" };
                    return Err(expected(next, &format!("{what} or the end of the step"), ""));
                }
                Step::Lock { lock, mode: mode.unwrap_or(Mode::Write), nested }
            }
            "unlock" => Step::Unlock { lock: self.lock()? },
            "work" => Step::Work(self.cost()?),
            "ipi" => {
                let cpu = self.cpu("")?;
                let handler = if self.eat_word("work") {
                    IpiHandler::Work(self.cost()?)
                } else {
                    self.word(
                        &HANDLER_WORDS,
                        "an IPI handler (install_event, remove_event, remove_events or work COST)",
                    )?
                };
                Step::Ipi { cpu, handler }
            }
            "check" => {
                let flag = self.flag()?;
                let t = self.bump();
                if !t.is_word("else") {
                    return Err(expected(
                        &t,
                        "`else` and an error number, as in `check cpu_online[cpu] else ENODEV`",
                        "",
                    ));
                }
                let errno = self.errno()?;
                let otherwise = if self.peek().is('{') { self.body(depth, "check")? } else { Vec::new() };
                Step::Check { flag, errno, otherwise }
            }
            "set" => Step::Set { flag: self.flag()?, value: true },
            "clear" => Step::Set { flag: self.flag()?, value: false },
            "synchronize_srcu" => Step::Synchronize(SyncKind::Srcu(self.lock()?)),
            "synchronize_rcu" => Step::Synchronize(SyncKind::Rcu),
            "synchronize_rcu_expedited" => Step::Synchronize(SyncKind::RcuExpedited),
            "stop_machine" => Step::StopMachine,
            "kick_ap" => {
                let t = self.bump();
                let known = || self.names.scripts.join(", ");
                if t.kind != Kind::Word {
                    return Err(expected(&t, "the name of the operation cpuhp/N runs", ""));
                }
                let Some(index) = self.names.scripts.iter().position(|s| *s == t.text) else {
                    return Err(error(&t, format!("unknown operation `{}` (known: {})", t.text, known())));
                };
                let script = ScriptId::try_from(index)
                    .map_err(|_| error(&t, format!("operation `{}` is past the last usable", t.text)))?;
                Step::KickAp { script }
            }
            "move_events" => Step::MoveEvents,
            "adopt_uncore" => Step::AdoptUncore,
            "unregister_pmu" => Step::UnregisterPmu,
            "register_pmu" => {
                let what = format!("where new contexts start from ({})", one_of(INIT_WORDS.map(|(w, _)| w)));
                Step::RegisterPmu { init: self.word(&INIT_WORDS, &what)? }
            }
            "mark" => {
                let what = format!("a mark ({})", one_of(MARK_WORDS.map(|(w, _)| w)));
                Step::Mark(self.word(&MARK_WORDS, &what)?)
            }
            "repeat" => {
                let n = self.bump();
                let times = whole_u32(&n, "repeat count")
                    .unwrap_or_else(|| Err(expected(&n, "a repeat count (a whole number)", "")))?;
                Step::Repeat { times, body: self.body(depth, &format!("repeat {times}"))? }
            }
            "for_each_pmu" => {
                let filter = if self.eat_word("core") {
                    PmuFilter::Core
                } else if self.eat_word("uncore") {
                    PmuFilter::Uncore
                } else if self.peek().kind == Kind::Word {
                    return Err(expected(self.peek(), "`core`, `uncore` or `{` after `for_each_pmu`", ""));
                } else {
                    PmuFilter::All
                };
                Step::ForEachPmu { filter, body: self.body(depth, "for_each_pmu")? }
            }
            "for_each_handoff" => Step::ForEachHandoff { body: self.body(depth, "for_each_handoff")? },
            "for_each_child" => Step::ForEachChild { body: self.body(depth, "for_each_child")? },
            "inc" => Step::Inc(self.counter()?),
            "dec" => Step::Dec(self.counter()?),
            "if" => {
                let cond = self.cond()?;
                let then = self.body(depth, "if")?;
                let otherwise = if self.peek().is_word("else") {
                    self.bump();
                    self.body(depth, "else")?
                } else {
                    Vec::new()
                };
                Step::If { cond, then, otherwise }
            }
            other => {
                return Err(error(&t, format!("unknown step `{other}` (known: {})", STEP_WORDS.join(", "))));
            }
        })
    }

    /// One of the words of `table`.
    fn word<T: Copy>(&mut self, table: &[(&str, T)], what: &str) -> Result<T, ParseError> {
        let t = self.bump();
        let found = if t.kind == Kind::Word { lookup(table, &t.text) } else { None };
        found.ok_or_else(|| expected(&t, what, ""))
    }

    fn cpu(&mut self, hint: &str) -> Result<CpuRef, ParseError> {
        let t = self.bump();
        if t.kind == Kind::Word
            && let Some(cpu) = lookup(&CPU_WORDS, &t.text)
        {
            return Ok(cpu);
        }
        whole_u32(&t, "CPU number").map_or_else(|| Err(expected(&t, CPU_WHAT, hint)), |n| n.map(CpuRef::Fixed))
    }

    fn pmu(&mut self, hint: &str) -> Result<PmuRef, ParseError> {
        let t = self.bump();
        let found = if t.kind == Kind::Word { lookup(&PMU_WORDS, &t.text) } else { None };
        found.ok_or_else(|| expected(&t, PMU_WHAT, hint))
    }

    /// `NAME`, `NAME[CPU]`, `NAME[CPU, PMU]`, `NAME[PMU]` or `NAME[task]`, as the class's layout says.
    fn lock(&mut self) -> Result<LockRef, ParseError> {
        let t = self.bump();
        if t.kind != Kind::Word {
            return Err(expected(&t, "a lock class name", ""));
        }
        let name = t.text.as_str();
        let Some((index, class)) = self.names.classes.iter().enumerate().find(|(_, c)| c.name == name) else {
            let known = if self.names.classes.is_empty() {
                "no lock classes are defined".to_string()
            } else {
                format!("known: {}", self.names.classes.iter().map(|c| c.name).collect::<Vec<_>>().join(", "))
            };
            return Err(error(&t, format!("unknown lock class `{name}` ({known})")));
        };
        let Ok(id) = ClassId::try_from(index) else {
            return Err(error(
                &t,
                format!("lock class `{name}` is number {index}, past the last usable {}", ClassId::MAX),
            ));
        };
        let (desc, form) = layout_form(name, class.layout);
        if class.layout == Layout::Global {
            let next = self.peek();
            if next.is('[') {
                return Err(error(next, format!("lock class `{name}` is global; write `{name}` without an index")));
            }
            return Ok(LockRef::Global(id));
        }
        if !self.eat('[') {
            return Err(error(&t, format!("lock class `{name}` is {desc}; write `{form}`")));
        }
        let hint = format!("; lock class `{name}` is {desc}, so write `{form}`");
        let lock = match class.layout {
            Layout::Global => LockRef::Global(id),
            Layout::PerCpu => LockRef::PerCpu(id, self.cpu(&hint)?),
            Layout::Ctx => {
                let cpu = self.cpu(&hint)?;
                self.expect(',', &hint)?;
                LockRef::Ctx(id, cpu, self.pmu(&hint)?)
            }
            Layout::PerPmu => LockRef::PerPmu(id, self.pmu(&hint)?),
            Layout::PerTask => {
                let task = self.bump();
                let slot = if task.is_word("task") {
                    TaskSlot::Own
                } else if task.is_word("child") {
                    TaskSlot::Child
                } else {
                    return Err(expected(&task, "`task` or `child`", &hint));
                };
                LockRef::PerTask(id, slot)
            }
        };
        self.expect(']', &hint)?;
        Ok(lock)
    }

    /// `NAME` or `NAME[tracepoint]`, as the counter's layout says.
    fn counter(&mut self) -> Result<CounterRef, ParseError> {
        let t = self.bump();
        if t.kind != Kind::Word {
            return Err(expected(&t, "a counter name", ""));
        }
        let name = t.text.as_str();
        let Some((index, info)) = self.names.counters.iter().enumerate().find(|(_, c)| c.name == name) else {
            let known = self.names.counters.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
            return Err(error(&t, format!("unknown counter `{name}` (known: {known})")));
        };
        let id =
            CounterId::try_from(index).map_err(|_| error(&t, format!("counter `{name}` is past the last usable")))?;
        let counter = CounterRef { id, layout: info.layout };
        match info.layout {
            CounterLayout::Global => {
                if self.peek().is('[') {
                    return Err(error(
                        self.peek(),
                        format!("counter `{name}` is global; write `{name}` without an index"),
                    ));
                }
            }
            CounterLayout::PerTracepoint => {
                let hint = format!("; counter `{name}` is per tracepoint, so write `{name}[tracepoint]`");
                if !self.eat('[') {
                    return Err(error(&t, format!("counter `{name}` is per tracepoint; write `{name}[tracepoint]`")));
                }
                let word = self.bump();
                if !word.is_word("tracepoint") {
                    return Err(expected(&word, "`tracepoint`", &hint));
                }
                self.expect(']', &hint)?;
            }
        }
        Ok(counter)
    }

    /// `zero COUNTER`, `nonzero COUNTER`, `FLAG`, `not FLAG` or `core_pmu[PMU]`.
    fn cond(&mut self) -> Result<Cond, ParseError> {
        if self.eat_word("zero") {
            return Ok(Cond::Zero(self.counter()?));
        }
        if self.eat_word("nonzero") {
            return Ok(Cond::NonZero(self.counter()?));
        }
        if self.eat_word("one") {
            return Ok(Cond::One(self.counter()?));
        }
        if self.eat_word("not") {
            return Ok(Cond::Clear(self.flag()?));
        }
        if self.eat_word("core_pmu") {
            let hint = "; write `core_pmu[PMU]`";
            self.expect('[', hint)?;
            let pmu = self.pmu(hint)?;
            self.expect(']', hint)?;
            return Ok(Cond::CorePmu(pmu));
        }
        if self.eat_word("has_events") {
            let hint = "; write `has_events[CPU, PMU]`";
            self.expect('[', hint)?;
            let cpu = self.cpu(hint)?;
            self.expect(',', hint)?;
            let pmu = self.pmu(hint)?;
            self.expect(']', hint)?;
            return Ok(Cond::HasEvents(cpu, pmu));
        }
        let t = self.peek();
        if t.kind != Kind::Word {
            return Err(expected(
                t,
                "a condition (zero COUNTER, nonzero COUNTER, one COUNTER, FLAG, not FLAG, core_pmu[PMU] or has_events[CPU, PMU])",
                "",
            ));
        }
        Ok(Cond::Set(self.flag()?))
    }

    /// `cpu_online[CPU]`, `ctx_online[CPU, PMU]`, `perf_online_mask[CPU]` or `usable[CPU]`.
    fn flag(&mut self) -> Result<Flag, ParseError> {
        const FLAGS: [&str; 4] = ["cpu_online", "ctx_online", "perf_online_mask", "usable"];
        let t = self.bump();
        if t.kind != Kind::Word {
            return Err(expected(&t, "a flag (cpu_online, ctx_online, perf_online_mask or usable)", ""));
        }
        let name = t.text.as_str();
        if !FLAGS.contains(&name) {
            return Err(error(&t, format!("unknown flag `{name}` (known: {})", FLAGS.join(", "))));
        }
        let with_pmu = name == "ctx_online";
        let hint = if with_pmu { format!("; write `{name}[CPU, PMU]`") } else { format!("; write `{name}[CPU]`") };
        self.expect('[', &hint)?;
        let cpu = self.cpu(&hint)?;
        let pmu = if with_pmu {
            self.expect(',', &hint)?;
            self.pmu(&hint)?
        } else {
            PmuRef::Arg
        };
        self.expect(']', &hint)?;
        Ok(match name {
            "cpu_online" => Flag::CpuOnline(cpu),
            "ctx_online" => Flag::CtxOnline(cpu, pmu),
            "perf_online_mask" => Flag::PerfOnline(cpu),
            _ => Flag::Usable(cpu),
        })
    }

    /// `ENODEV`, `-EBUSY`, `einval`, …
    fn errno(&mut self) -> Result<Errno, ParseError> {
        self.eat('-');
        let t = self.bump();
        let found = if t.kind == Kind::Word { Errno::parse(&t.text) } else { None };
        found.ok_or_else(|| expected(&t, "an error number (ENODEV, ENXIO, EBUSY or EINVAL)", ""))
    }

    /// `5us + 200ns*online_cpus + 1us*cpus`, each term at most once, optionally in `exp(…)`.
    fn cost(&mut self) -> Result<Cost, ParseError> {
        const TERMS: [&str; 3] = ["fixed", "`*online_cpus`", "`*cpus`"];
        let exponential = self.eat_word("exp");
        if exponential {
            let open = self.bump();
            if !open.is('(') {
                return Err(expected(&open, "`(` after `exp`, as in `exp(5ms)`", ""));
            }
        }
        let mut cost = Cost { exponential, ..Cost::default() };
        let mut seen = [false; 3];
        loop {
            let t = self.bump();
            let ns = duration(&t)?;
            let term = if self.eat('*') {
                let per = self.bump();
                if per.is_word("online_cpus") {
                    1
                } else if per.is_word("cpus") {
                    2
                } else {
                    return Err(expected(&per, "`online_cpus` or `cpus` after `*`", ""));
                }
            } else {
                0
            };
            if std::mem::replace(&mut seen[term], true) {
                return Err(error(
                    &t,
                    format!(
                        "`{}` repeats the {} term of the cost; write each of D, D*online_cpus and D*cpus at most once",
                        t.text, TERMS[term]
                    ),
                ));
            }
            match term {
                0 => cost.base_ns = ns,
                1 => cost.per_online_cpu_ns = ns,
                _ => cost.per_possible_cpu_ns = ns,
            }
            if !self.eat('+') {
                break;
            }
        }
        if exponential {
            let close = self.bump();
            if !close.is(')') {
                return Err(expected(&close, "`)` closing `exp(`", ""));
            }
        }
        Ok(cost)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CLASSES: [ClassInfo<'static>; 7] = [
        ClassInfo { name: "cpu_hotplug_lock", layout: Layout::Global },
        ClassInfo { name: "pmus_lock", layout: Layout::Global },
        ClassInfo { name: "pmus_srcu", layout: Layout::Global },
        ClassInfo { name: "ctx->mutex", layout: Layout::Ctx },
        ClassInfo { name: "dev->mutex", layout: Layout::PerPmu },
        ClassInfo { name: "event->child_mutex", layout: Layout::PerTask },
        ClassInfo { name: "cpuhp_state->lock", layout: Layout::PerCpu },
    ];
    const COUNTERS: [CounterInfo<'static>; 2] = [
        CounterInfo { name: "perf_refcount", layout: CounterLayout::PerTracepoint },
        CounterInfo { name: "pmc_refcount", layout: CounterLayout::Global },
    ];
    const NAMES: Names<'static> = Names { classes: &CLASSES, counters: &COUNTERS, scripts: &["open", "ap"] };
    const HOTPLUG: ClassId = 0;
    const PMUS_LOCK: ClassId = 1;
    const PMUS_SRCU: ClassId = 2;
    const CTX_MUTEX: ClassId = 3;
    const DEV_MUTEX: ClassId = 4;
    const CHILD_MUTEX: ClassId = 5;
    const CPUHP_LOCK: ClassId = 6;

    const PERF_EXIT: &str = "\
lock pmus_lock
for_each_pmu {
    lock ctx->mutex[cpu, loop_pmu]
    ipi cpu remove_events
    clear ctx_online[cpu, loop_pmu]
    unlock ctx->mutex[cpu, loop_pmu]
}
clear perf_online_mask[cpu]
unlock pmus_lock
";

    fn parse(text: &str) -> Result<Vec<Step>, ParseError> {
        parse_steps(text, &NAMES)
    }

    fn print(steps: &[Step]) -> String {
        print_steps(steps, &NAMES, 0)
    }

    fn lock(lock: LockRef) -> Step {
        Step::Lock { lock, mode: Mode::Write, nested: false }
    }

    fn perf_exit() -> Vec<Step> {
        let ctx = LockRef::Ctx(CTX_MUTEX, CpuRef::Arg, PmuRef::Loop);
        vec![
            lock(LockRef::Global(PMUS_LOCK)),
            Step::ForEachPmu {
                filter: PmuFilter::All,
                body: vec![
                    lock(ctx),
                    Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::RemoveEvents },
                    Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: false },
                    Step::Unlock { lock: ctx },
                ],
            },
            Step::Set { flag: Flag::PerfOnline(CpuRef::Arg), value: false },
            Step::Unlock { lock: LockRef::Global(PMUS_LOCK) },
        ]
    }

    /// The error's position and message, or a panic naming the text that parsed.
    fn parse_err(text: &str) -> (usize, usize, String) {
        match parse(text) {
            Err(e) => (e.line, e.column, e.message),
            Ok(steps) => panic!("{text:?} parsed as {steps:?}"),
        }
    }

    #[test]
    fn perf_exit_of_the_pmus_lock_scheme_parses_to_its_steps() {
        assert_eq!(parse(PERF_EXIT), Ok(perf_exit()));
    }

    #[test]
    fn perf_exit_prints_as_written_and_indents_by_level() {
        assert_eq!(print(&perf_exit()), PERF_EXIT);
        let indented = print_steps(&perf_exit()[1..2], &NAMES, 1);
        assert!(indented.starts_with("    for_each_pmu {\n        lock ctx->mutex[cpu, loop_pmu]\n"), "{indented}");
        assert!(indented.ends_with("\n    }\n"), "{indented}");
    }

    #[test]
    fn comments_semicolons_blank_lines_and_spacing_are_ignored() {
        let text = "# perf exit, squeezed\n\n  lock   pmus_lock # the list\n\
                    for_each_pmu{lock ctx->mutex [ cpu , loop_pmu ];ipi cpu remove_events ; \
                    clear ctx_online[cpu,loop_pmu]\n\tunlock ctx->mutex[cpu, loop_pmu] }\n;;\n\
                    clear perf_online_mask[cpu]; unlock pmus_lock;  # done\n";
        assert_eq!(parse(text), Ok(perf_exit()));
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("# nothing\n\n  ; \n"), Ok(vec![]));
    }

    #[test]
    fn every_step_form_parses() {
        let text = "\
lock cpu_hotplug_lock read
lock cpu_hotplug_lock write
lock ctx->mutex[target, pmu] nested
lock ctx->mutex[lower, loop_pmu] read nested
lock dev->mutex[pmu]
lock event->child_mutex[task]
lock cpuhp_state->lock[7]
unlock cpuhp_state->lock[this_cpu]
work exp(5ms)
ipi higher install_event
ipi 0 remove_event
ipi cpu work 2us + 100ns*cpus
check cpu_online[cpu] else -ENODEV
check usable[cpu] else ebusy {
    set usable[cpu]
}
set cpu_online[12]
synchronize_srcu pmus_srcu
synchronize_rcu
synchronize_rcu_expedited
stop_machine
repeat 3 {
    for_each_pmu core { work 1us }
    for_each_pmu uncore {
    }
}
for_each_handoff { move_events }
adopt_uncore
register_pmu all_possible
register_pmu cpu_online
register_pmu perf_online_mask
unregister_pmu
mark perf_exit_done
mark perf_init_start
mark cpu_up_done
";
        let expected = vec![
            Step::Lock { lock: LockRef::Global(HOTPLUG), mode: Mode::Read, nested: false },
            lock(LockRef::Global(HOTPLUG)),
            Step::Lock { lock: LockRef::Ctx(CTX_MUTEX, CpuRef::Target, PmuRef::Arg), mode: Mode::Write, nested: true },
            Step::Lock { lock: LockRef::Ctx(CTX_MUTEX, CpuRef::Lower, PmuRef::Loop), mode: Mode::Read, nested: true },
            lock(LockRef::PerPmu(DEV_MUTEX, PmuRef::Arg)),
            lock(LockRef::PerTask(CHILD_MUTEX, TaskSlot::Own)),
            lock(LockRef::PerCpu(CPUHP_LOCK, CpuRef::Fixed(7))),
            Step::Unlock { lock: LockRef::PerCpu(CPUHP_LOCK, CpuRef::Current) },
            Step::Work(Cost::exp(5_000_000)),
            Step::Ipi { cpu: CpuRef::Higher, handler: IpiHandler::InstallEvent },
            Step::Ipi { cpu: CpuRef::Fixed(0), handler: IpiHandler::RemoveEvent },
            Step::Ipi {
                cpu: CpuRef::Arg,
                handler: IpiHandler::Work(Cost { base_ns: 2_000, per_possible_cpu_ns: 100, ..Cost::default() }),
            },
            Step::Check { flag: Flag::CpuOnline(CpuRef::Arg), errno: Errno::Enodev, otherwise: vec![] },
            Step::Check {
                flag: Flag::Usable(CpuRef::Arg),
                errno: Errno::Ebusy,
                otherwise: vec![Step::Set { flag: Flag::Usable(CpuRef::Arg), value: true }],
            },
            Step::Set { flag: Flag::CpuOnline(CpuRef::Fixed(12)), value: true },
            Step::Synchronize(SyncKind::Srcu(LockRef::Global(PMUS_SRCU))),
            Step::Synchronize(SyncKind::Rcu),
            Step::Synchronize(SyncKind::RcuExpedited),
            Step::StopMachine,
            Step::Repeat {
                times: 3,
                body: vec![
                    Step::ForEachPmu { filter: PmuFilter::Core, body: vec![Step::Work(Cost::fixed(1_000))] },
                    Step::ForEachPmu { filter: PmuFilter::Uncore, body: vec![] },
                ],
            },
            Step::ForEachHandoff { body: vec![Step::MoveEvents] },
            Step::AdoptUncore,
            Step::RegisterPmu { init: InitFrom::AllPossible },
            Step::RegisterPmu { init: InitFrom::CpuOnline },
            Step::RegisterPmu { init: InitFrom::PerfOnline },
            Step::UnregisterPmu,
            Step::Mark(Mark::PerfExitDone),
            Step::Mark(Mark::PerfInitStart),
            Step::Mark(Mark::CpuUpDone),
        ];
        assert_eq!(parse(text), Ok(expected.clone()));
        assert_eq!(parse(&print(&expected)), Ok(expected));
    }

    #[test]
    fn costs_parse_exactly() {
        let cost = |base_ns, per_online_cpu_ns, per_possible_cpu_ns, exponential| Cost {
            base_ns,
            per_online_cpu_ns,
            per_possible_cpu_ns,
            exponential,
        };
        for (text, expected) in [
            ("0ns", cost(0, 0, 0, false)),
            ("300ns", cost(300, 0, 0, false)),
            ("2us", cost(2_000, 0, 0, false)),
            ("1.5ms", cost(1_500_000, 0, 0, false)),
            ("1.250000us", cost(1_250, 0, 0, false)),
            ("10s", cost(10_000_000_000, 0, 0, false)),
            ("3µs", cost(3_000, 0, 0, false)),
            ("5us + 200ns*online_cpus", cost(5_000, 200, 0, false)),
            ("300ns*cpus", cost(0, 0, 300, false)),
            ("1ms*cpus + 2us * online_cpus + 7ns", cost(7, 2_000, 1_000_000, false)),
            ("exp(5ms)", cost(5_000_000, 0, 0, true)),
            ("exp( 1us*online_cpus )", cost(0, 1_000, 0, true)),
            ("2min + 1.5min*cpus", cost(120_000_000_000, 0, 90_000_000_000, false)),
            ("3600s", cost(MAX_COST_NS, 0, 0, false)),
            ("1h*online_cpus + 0.5h*cpus", cost(0, MAX_COST_NS, MAX_COST_NS / 2, false)),
        ] {
            assert_eq!(parse(&format!("work {text}")), Ok(vec![Step::Work(expected)]), "{text}");
        }
    }

    #[test]
    fn a_cost_that_would_overflow_is_refused_at_parse() {
        // Wrapped to about 255 ns in release builds when draw added the terms unchecked.
        let (line, column, message) = parse_err("work 18446744073709551615ns + 1ns*online_cpus");
        assert_eq!((line, column), (1, 6));
        assert_eq!(message, "`18446744073709551615ns` is too long for a cost (at most 3600s, one hour)");
    }

    #[test]
    fn costs_print_in_the_largest_exact_unit() {
        let print_cost = |c: Cost| print(&[Step::Work(c)]);
        assert_eq!(print_cost(Cost::fixed(0)), "work 0ns\n");
        assert_eq!(print_cost(Cost::fixed(5_000_000)), "work 5ms\n");
        assert_eq!(print_cost(Cost::fixed(1_500)), "work 1500ns\n");
        assert_eq!(print_cost(Cost::fixed(30_000_000_000)), "work 30s\n");
        assert_eq!(print_cost(Cost::exp(2_000)), "work exp(2us)\n");
        let per_cpu = Cost { base_ns: 5_000, per_online_cpu_ns: 200, per_possible_cpu_ns: 0, exponential: false };
        assert_eq!(print_cost(per_cpu), "work 5us + 200ns*online_cpus\n");
        let only_possible = Cost { per_possible_cpu_ns: 300, exponential: true, ..Cost::default() };
        assert_eq!(print_cost(only_possible), "work exp(300ns*cpus)\n");
    }

    #[test]
    fn lock_errors_name_the_token_and_the_right_form() {
        let (line, column, message) = parse_err("lock pmus_lock\nlock pmu_lock");
        assert_eq!((line, column), (2, 6));
        assert!(
            message.starts_with("unknown lock class `pmu_lock` (known: cpu_hotplug_lock, pmus_lock, "),
            "{message}"
        );
        assert_eq!(
            parse_err("lock ctx->mutex[pmu, cpu]"),
            (
                1,
                17,
                "expected a CPU (cpu, this_cpu, target, lower, higher or a number), found `pmu`; lock class \
                     `ctx->mutex` is per CPU and PMU, so write `ctx->mutex[CPU, PMU]`"
                    .into()
            )
        );
        assert_eq!(
            parse_err("unlock pmus_lock[cpu]"),
            (1, 17, "lock class `pmus_lock` is global; write `pmus_lock` without an index".into())
        );
        assert_eq!(
            parse_err("  lock ctx->mutex\n"),
            (1, 8, "lock class `ctx->mutex` is per CPU and PMU; write `ctx->mutex[CPU, PMU]`".into())
        );
        let (line, column, message) = parse_err("lock ctx->mutex[cpu]");
        assert_eq!((line, column), (1, 20));
        assert!(message.starts_with("expected `,`, found `]`;"), "{message}");
        let (_, column, message) = parse_err("lock dev->mutex[cpu]");
        assert_eq!(column, 17);
        assert!(message.contains("found `cpu`") && message.ends_with("write `dev->mutex[PMU]`"), "{message}");
        let (_, column, message) = parse_err("lock event->child_mutex[cpu]");
        assert_eq!(column, 25);
        assert!(message.starts_with("expected `task` or `child`, found `cpu`"), "{message}");
        assert!(message.ends_with("write `event->child_mutex[task|child]`"), "{message}");
        let (_, column, message) = parse_err("lock cpuhp_state->lock[1, pmu]");
        assert_eq!(column, 25);
        assert!(message.starts_with("expected `]`, found `,`") && message.contains("`cpuhp_state->lock[CPU]`"));
        let (_, column, message) = parse_err("lock pmus_lock reed");
        assert_eq!(column, 16);
        assert!(message.starts_with("expected `read`, `write`, `nested` or the end of the step, found `reed`"));
        assert_eq!(
            parse_steps("lock x", &Names { classes: &[], counters: &[], scripts: &[] }).unwrap_err().message,
            "unknown lock class `x` (no lock classes are defined)"
        );
    }

    #[test]
    fn value_errors_name_the_token_and_what_is_allowed() {
        let cases: [(&str, (usize, usize), &str); 24] = [
            (
                "ipi pmu remove_events",
                (1, 5),
                "expected a CPU (cpu, this_cpu, target, lower, higher or a number), found `pmu`",
            ),
            ("ipi 4294967296 remove_events", (1, 5), "CPU number `4294967296` is too large (at most 4294967295)"),
            (
                "ipi cpu remove",
                (1, 9),
                "expected an IPI handler (install_event, remove_event, remove_events or work COST)",
            ),
            ("set cpu_online[loop_pmu]", (1, 16), "found `loop_pmu`; write `cpu_online[CPU]`"),
            ("clear ctx_online[cpu, 3]", (1, 23), "expected a PMU (pmu or loop_pmu), found `3`"),
            (
                "set online[cpu]",
                (1, 5),
                "unknown flag `online` (known: cpu_online, ctx_online, perf_online_mask, usable)",
            ),
            ("set usable", (1, 11), "expected `[`, found the end of the script; write `usable[CPU]`"),
            ("check cpu_online[cpu] ENODEV", (1, 23), "expected `else` and an error number"),
            (
                "check cpu_online[cpu] else EPERM",
                (1, 28),
                "expected an error number (ENODEV, ENXIO, EBUSY or EINVAL), found `EPERM`",
            ),
            ("work 5", (1, 6), "`5` needs a unit: 5ns, 5us, 5ms, 5s, 5min or 5h"),
            ("work 5d", (1, 6), "unknown unit `d` in `5d` (use ns, us, ms, s, min or h)"),
            ("work 1.0005us", (1, 6), "`1.0005us` is not a whole number of nanoseconds"),
            ("work 3600.000000001s", (1, 6), "`3600.000000001s` is too long for a cost (at most 3600s, one hour)"),
            ("work 1ns + 61min*cpus", (1, 12), "`61min` is too long for a cost (at most 3600s, one hour)"),
            (
                "work 18446744073709551616ns",
                (1, 6),
                "`18446744073709551616ns` is too long (at most 18446744073709551615ns)",
            ),
            ("work 99999999999999999999999999999999999s", (1, 6), "is too long"),
            ("work 5ms*online", (1, 10), "expected `online_cpus` or `cpus` after `*`, found `online`"),
            ("work 5ms + 1ms", (1, 12), "`1ms` repeats the fixed term of the cost"),
            ("work exp(5ms", (1, 13), "expected `)` closing `exp(`, found the end of the script"),
            ("work fast", (1, 6), "expected a duration (like 300ns, 5us, 1.5ms or 10s), found `fast`"),
            ("mark done", (1, 6), "expected a mark (perf_exit_done, perf_init_start or cpu_up_done), found `done`"),
            ("register_pmu all", (1, 14), "(cpu_online, perf_online_mask or all_possible), found `all`"),
            ("repeat 99999999999 {\n}", (1, 8), "repeat count `99999999999` is too large (at most 4294967295)"),
            ("repeat many {\n}", (1, 8), "expected a repeat count (a whole number), found `many`"),
        ];
        for (text, position, needle) in cases {
            let (line, column, message) = parse_err(text);
            assert_eq!((line, column), position, "{text}: {message}");
            assert!(message.contains(needle), "{text}: {message}");
        }
    }

    #[test]
    fn structure_errors_name_the_token_and_where() {
        let cases: [(&str, (usize, usize), &str); 10] = [
            ("lock pmus_lock\nfor_each_pmu {\n  work 1us\n", (4, 1), "unclosed `{` opened at line 2, column 14"),
            ("work 1us\n}", (2, 1), "unmatched `}`"),
            ("work 1us\nlok pmus_lock", (2, 1), "unknown step `lok` (known: lock, unlock, work, ipi, check"),
            ("repeat 3\n{\n}", (1, 9), "expected `{` after `repeat 3`, on the same line, found the end of the line"),
            ("check cpu_online[cpu] else EBUSY\n{\n}", (2, 1), "`{` must be on the same line"),
            ("for_each_pmu all {\n}", (1, 14), "expected `core`, `uncore` or `{` after `for_each_pmu`, found `all`"),
            ("stop_machine now", (1, 14), "expected the end of the step (a new line, `;` or `}`), found `now`"),
            ("for_each_handoff { move_events } adopt_uncore", (1, 34), "expected the end of the step"),
            ("work 1us\n  lock pmus_lock @", (2, 18), "unexpected character `@`"),
            ("[cpu]", (1, 1), "expected a step (lock, unlock, work"),
        ];
        for (text, position, needle) in cases {
            let (line, column, message) = parse_err(text);
            assert_eq!((line, column), position, "{text}: {message}");
            assert!(message.contains(needle), "{text}: {message}");
        }
        let e = parse("work 1us\0").unwrap_err();
        assert_eq!(e.to_string(), format!("line 1, column 9: {}", e.message));
        assert!(e.message.starts_with("unexpected character `\\0`"), "{}", e.message);
    }

    #[test]
    fn located_steps_give_each_step_its_line_and_column_in_step_order() {
        let text = "work 1us\nfor_each_pmu {\n  # comment\n    stop_machine; adopt_uncore\n}\nmark cpu_up_done\n";
        let (steps, positions) = parse_steps_located(text, &NAMES).unwrap();
        assert_eq!(parse(text), Ok(steps));
        assert_eq!(positions, vec![(1, 1), (2, 1), (4, 5), (4, 19), (6, 1)]);
    }

    #[test]
    fn nesting_is_capped_at_max_script_depth() {
        let nest = |levels: usize| format!("{}work 1us\n{}", "repeat 1 {\n".repeat(levels), "}\n".repeat(levels));
        let steps = parse(&nest(MAX_SCRIPT_DEPTH)).unwrap();
        assert!(crate::script::Program::compile("deep", &steps).is_ok());
        assert_eq!(parse(&print(&steps)), Ok(steps));
        let (line, column, message) = parse_err(&nest(MAX_SCRIPT_DEPTH + 1));
        assert_eq!((line, column), (MAX_SCRIPT_DEPTH + 1, 10));
        assert_eq!(message, format!("blocks nest deeper than {MAX_SCRIPT_DEPTH} levels"));
        assert!(parse(&"for_each_pmu {".repeat(100_000)).is_err());
        assert!(parse(&"{".repeat(100_000)).is_err());
    }

    fn arb_cpu() -> impl Strategy<Value = CpuRef> {
        prop_oneof![
            Just(CpuRef::Arg),
            Just(CpuRef::Current),
            any::<u32>().prop_map(CpuRef::Fixed),
            Just(CpuRef::Target),
            Just(CpuRef::Lower),
            Just(CpuRef::Higher),
        ]
    }

    fn arb_pmu() -> impl Strategy<Value = PmuRef> {
        prop_oneof![Just(PmuRef::Arg), Just(PmuRef::Loop)]
    }

    fn arb_lock() -> impl Strategy<Value = LockRef> {
        prop_oneof![
            prop_oneof![Just(HOTPLUG), Just(PMUS_LOCK), Just(PMUS_SRCU)].prop_map(LockRef::Global),
            arb_cpu().prop_map(|c| LockRef::PerCpu(CPUHP_LOCK, c)),
            (arb_cpu(), arb_pmu()).prop_map(|(c, p)| LockRef::Ctx(CTX_MUTEX, c, p)),
            arb_pmu().prop_map(|p| LockRef::PerPmu(DEV_MUTEX, p)),
            Just(LockRef::PerTask(CHILD_MUTEX, TaskSlot::Own)),
            Just(LockRef::PerTask(CHILD_MUTEX, TaskSlot::Child)),
        ]
    }

    /// Any cost term up to the limit, or a round one so that every unit gets printed.
    fn arb_ns() -> impl Strategy<Value = u64> {
        prop_oneof![0..=MAX_COST_NS, (0..=3_600u64, 0..=3u32).prop_map(|(v, k)| v * 1_000u64.pow(k))]
    }

    fn arb_cost() -> impl Strategy<Value = Cost> {
        let per_cpu = || prop_oneof![Just(0), arb_ns()];
        (arb_ns(), per_cpu(), per_cpu(), any::<bool>()).prop_map(
            |(base_ns, per_online_cpu_ns, per_possible_cpu_ns, exponential)| Cost {
                base_ns,
                per_online_cpu_ns,
                per_possible_cpu_ns,
                exponential,
            },
        )
    }

    fn arb_flag() -> impl Strategy<Value = Flag> {
        prop_oneof![
            arb_cpu().prop_map(Flag::CpuOnline),
            (arb_cpu(), arb_pmu()).prop_map(|(c, p)| Flag::CtxOnline(c, p)),
            arb_cpu().prop_map(Flag::PerfOnline),
            arb_cpu().prop_map(Flag::Usable),
        ]
    }

    fn arb_errno() -> impl Strategy<Value = Errno> {
        prop_oneof![Just(Errno::Enodev), Just(Errno::Enxio), Just(Errno::Ebusy), Just(Errno::Einval)]
    }

    fn arb_leaf() -> impl Strategy<Value = Step> {
        let handler = prop_oneof![
            Just(IpiHandler::InstallEvent),
            Just(IpiHandler::RemoveEvent),
            Just(IpiHandler::RemoveEvents),
            arb_cost().prop_map(IpiHandler::Work),
        ];
        prop_oneof![
            (arb_lock(), any::<bool>(), any::<bool>()).prop_map(|(lock, read, nested)| Step::Lock {
                lock,
                mode: if read { Mode::Read } else { Mode::Write },
                nested
            }),
            arb_lock().prop_map(|lock| Step::Unlock { lock }),
            arb_cost().prop_map(Step::Work),
            (arb_cpu(), handler).prop_map(|(cpu, handler)| Step::Ipi { cpu, handler }),
            (arb_flag(), arb_errno()).prop_map(|(flag, errno)| Step::Check { flag, errno, otherwise: vec![] }),
            (arb_flag(), any::<bool>()).prop_map(|(flag, value)| Step::Set { flag, value }),
            arb_lock().prop_map(|l| Step::Synchronize(SyncKind::Srcu(l))),
            Just(Step::Synchronize(SyncKind::Rcu)),
            Just(Step::Synchronize(SyncKind::RcuExpedited)),
            Just(Step::StopMachine),
            Just(Step::MoveEvents),
            Just(Step::AdoptUncore),
            prop_oneof![Just(InitFrom::CpuOnline), Just(InitFrom::PerfOnline), Just(InitFrom::AllPossible)]
                .prop_map(|init| Step::RegisterPmu { init }),
            Just(Step::UnregisterPmu),
            prop_oneof![Just(Mark::PerfExitDone), Just(Mark::PerfInitStart), Just(Mark::CpuUpDone)]
                .prop_map(Step::Mark),
            arb_counter().prop_map(Step::Inc),
            arb_counter().prop_map(Step::Dec),
        ]
    }

    fn arb_counter() -> impl Strategy<Value = CounterRef> {
        prop_oneof![
            Just(CounterRef { id: 0, layout: CounterLayout::PerTracepoint }),
            Just(CounterRef { id: 1, layout: CounterLayout::Global }),
        ]
    }

    fn arb_cond() -> impl Strategy<Value = Cond> {
        prop_oneof![
            arb_counter().prop_map(Cond::Zero),
            arb_counter().prop_map(Cond::NonZero),
            arb_counter().prop_map(Cond::One),
            arb_flag().prop_map(Cond::Set),
            arb_flag().prop_map(Cond::Clear),
            arb_pmu().prop_map(Cond::CorePmu),
            (arb_cpu(), arb_pmu()).prop_map(|(c, p)| Cond::HasEvents(c, p)),
        ]
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        arb_leaf().prop_recursive(4, 48, 6, |inner| {
            let body = proptest::collection::vec(inner, 0..6);
            let filter = prop_oneof![Just(PmuFilter::All), Just(PmuFilter::Core), Just(PmuFilter::Uncore)];
            prop_oneof![
                (any::<u32>(), body.clone()).prop_map(|(times, body)| Step::Repeat { times, body }),
                (filter, body.clone()).prop_map(|(filter, body)| Step::ForEachPmu { filter, body }),
                body.clone().prop_map(|body| Step::ForEachHandoff { body }),
                body.clone().prop_map(|body| Step::ForEachChild { body }),
                (arb_cond(), body.clone(), body.clone()).prop_map(|(cond, then, otherwise)| Step::If {
                    cond,
                    then,
                    otherwise
                }),
                (arb_flag(), arb_errno(), body).prop_map(|(flag, errno, otherwise)| Step::Check {
                    flag,
                    errno,
                    otherwise
                }),
            ]
        })
    }

    /// Words, numbers and punctuation of the language, valid and nearly valid.
    const SOUP_WORDS: &str = "lock unlock work ipi check else set clear repeat for_each_pmu core for_each_handoff mark \
                              synchronize_srcu register_pmu cpu_online ctx_online pmus_lock ctx->mutex dev->mutex \
                              event->child_mutex[task] cpuhp_state->lock cpu pmu loop_pmu target task read nested \
                              exp online_cpus cpus ENODEV - 5ms 1.5us 0 4294967296 99999999999999999999999ns \
                              [ ] , ( ) { } ; + * #";
    /// Whole steps and block ends, so that many sequences parse.
    const SOUP_STEPS: [&str; 12] = [
        "lock pmus_lock",
        "unlock ctx->mutex[cpu, loop_pmu] # comment\n",
        "work 5us + 1ns*cpus",
        "ipi target work exp(1ms)",
        "set usable[this_cpu]",
        "lock event->child_mutex[task] read nested",
        "repeat 2 {",
        "for_each_pmu uncore {",
        "check ctx_online[3, pmu] else EBUSY {",
        "}",
        "}",
        "}",
    ];

    /// Soup pieces glued together: any mix, or lines of whole steps with a stray word now and then.
    fn arb_soup() -> impl Strategy<Value = String> {
        let words: Vec<&str> = SOUP_WORDS.split_whitespace().chain(["\n"]).collect();
        let any_piece = proptest::sample::select(words.iter().copied().chain(SOUP_STEPS).collect::<Vec<_>>());
        let mostly_steps =
            prop_oneof![12 => proptest::sample::select(SOUP_STEPS.to_vec()), 1 => proptest::sample::select(words)];
        let glue = |options: Vec<&'static str>| proptest::sample::select(options);
        prop_oneof![
            (proptest::collection::vec(any_piece, 0..40), glue(vec![" ", "", "\n"]))
                .prop_map(|(pieces, glue)| pieces.join(glue)),
            (proptest::collection::vec(mostly_steps, 0..24), glue(vec!["\n", ";", " ; "])).prop_map(
                |(pieces, glue)| {
                    // Mostly balanced: drop a `}` that closes nothing, close what is left open.
                    let mut depth = 0usize;
                    let mut kept = Vec::new();
                    for piece in pieces {
                        if piece == "}" && depth == 0 {
                            continue;
                        }
                        depth = if piece == "}" { depth - 1 } else { depth + usize::from(piece.ends_with('{')) };
                        kept.push(piece);
                    }
                    kept.extend(std::iter::repeat_n("}", depth));
                    kept.join(glue)
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn printed_scripts_parse_back_to_themselves(steps in proptest::collection::vec(arb_step(), 0..10)) {
            let text = print(&steps);
            prop_assert_eq!(parse(&text), Ok(steps), "{}", text);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), ascii in "[ -~\t\n]{0,200}") {
            let _ = parse(&text);
            let _ = parse(&ascii);
        }

        #[test]
        fn token_soup_never_panics_and_what_parses_round_trips(text in arb_soup()) {
            if let Ok(steps) = parse(&text) {
                prop_assert_eq!(parse(&print(&steps)), Ok(steps));
            }
        }
    }
}
