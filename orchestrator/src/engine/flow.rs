//! How a flow is written down: a versioned list of steps, each a command (with an optional
//! compensation), a wait, a decision or a parallel fan-out. Definitions are plain data plus
//! small pure functions over the saga's JSON data; the engine interprets them.

use aftersales_proto::messaging::v1::DomainEvent;
use prost::{Message, Name};
use serde_json::{Map, Value};
use std::time::Duration;

/// The saga's data: ids, amounts and step results, stored as JSON with the instance.
pub type Data = Map<String, Value>;

/// What a step function sees.
pub struct Ctx<'a> {
    pub data: &'a Data,
    /// The branch item of a parallel step (`None` for a sequential step).
    pub item: Option<&'a Value>,
    /// Deterministic idempotency key of this command: saga id + step + branch + round.
    pub key: &'a str,
}

impl Ctx<'_> {
    /// A required string of the saga data.
    pub fn str(&self, field: &str) -> Result<String, String> {
        string_of(self.data.get(field), field)
    }

    /// A required string of the branch item.
    pub fn item_str(&self, field: &str) -> Result<String, String> {
        string_of(self.item.and_then(|i| i.get(field)), field)
    }

    /// A required unsigned integer of the branch item.
    pub fn item_u64(&self, field: &str) -> Result<u64, String> {
        self.item
            .and_then(|i| i.get(field))
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("saga item has no number `{field}`"))
    }

    /// A required signed integer of the saga data.
    pub fn i64(&self, field: &str) -> Result<i64, String> {
        self.data
            .get(field)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("saga data has no number `{field}`"))
    }
}

fn string_of(v: Option<&Value>, field: &str) -> Result<String, String> {
    v.and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("saga data has no string `{field}`"))
}

/// A command ready to send: target service and an encoded request message of its API.
#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    pub service: &'static str,
    pub message_type: String,
    pub payload: Vec<u8>,
}

impl Cmd {
    pub fn new<M: Message + Name>(service: &'static str, request: &M) -> Self {
        Self {
            service,
            message_type: M::full_name(),
            payload: request.encode_to_vec(),
        }
    }
}

/// The successful result of a command: the service's encoded response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CmdResult {
    pub result_type: String,
    pub payload: Vec<u8>,
}

impl CmdResult {
    pub fn decode<M: Message + Name + Default>(&self) -> Result<M, String> {
        if self.result_type != M::full_name() {
            return Err(format!(
                "expected result {} but got {}",
                M::full_name(),
                self.result_type
            ));
        }
        M::decode(self.payload.as_slice()).map_err(|e| format!("undecodable result: {e}"))
    }
}

/// What a step makes of a successful reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The step is done.
    Done,
    /// The step is done and left nothing to undo (e.g. a charge the provider declined): its
    /// compensation must not run.
    DoneWithoutEffect,
    /// The command answered, but with a definite failure worth repeating under a new
    /// idempotency key (e.g. the provider refused a refund).
    Retry(String),
    /// A business failure: compensate (or park past the pivot).
    Fail(String),
}

pub type BuildFn = fn(&Ctx) -> Result<Cmd, String>;
pub type ResultFn = fn(&mut Data, Option<&Value>, &CmdResult) -> Outcome;

/// A command and what to do with its result.
#[derive(Clone, Copy)]
pub struct Action {
    pub build: BuildFn,
    pub on_result: Option<ResultFn>,
}

/// Send a command, await its reply.
pub struct CommandStep {
    pub name: &'static str,
    pub action: Action,
    pub compensation: Option<Action>,
    /// Money moves here: once it succeeded the saga only goes forward.
    pub pivot: bool,
    /// Department of the operator work order opened when this step parks the saga.
    pub department: Department,
}

impl CommandStep {
    /// A command step without compensation, not the pivot, parking to customer service.
    pub fn new(name: &'static str, build: BuildFn) -> Self {
        Self {
            name,
            action: Action {
                build,
                on_result: None,
            },
            compensation: None,
            pivot: false,
            department: Department::CustomerService,
        }
    }

    /// What to make of the successful reply (default: done).
    pub fn on_result(mut self, f: ResultFn) -> Self {
        self.action.on_result = Some(f);
        self
    }

    /// The command that undoes this step.
    pub fn compensate(mut self, build: BuildFn) -> Self {
        self.compensation = Some(Action {
            build,
            on_result: None,
        });
        self
    }

    /// Marks the point of no return (money moves here).
    pub fn pivot(mut self) -> Self {
        self.pivot = true;
        self
    }

    /// Where the operator work order goes when this step parks the saga.
    pub fn department(mut self, department: Department) -> Self {
        self.department = department;
        self
    }
}

/// Which department an operator work order goes to when a saga parks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Department {
    Finance,
    CustomerService,
    Warehouse,
    Delivery,
}

/// What a wait makes of a matching event.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitOutcome {
    /// Not the awaited change; keep waiting.
    Ignore,
    Done,
    Fail(String),
}

/// What happens when a wait's deadline passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnTimeout {
    /// A business failure: compensate (or park past the pivot).
    Fail(&'static str),
    /// Park for an operator.
    Park(&'static str),
    /// Treat the wait as done (auto-decide).
    Continue,
}

/// Wait for an external event matched by business key, with a durable deadline.
pub struct WaitStep {
    pub name: &'static str,
    /// Event names (routing keys) that may end the wait.
    pub events: &'static [&'static str],
    /// The event key to match (`DomainEvent.keys[key_name]`).
    pub key_name: &'static str,
    /// The value it must have, from the saga data.
    pub key_value: fn(&Ctx) -> Result<String, String>,
    pub on_event: fn(&mut Data, Option<&Value>, &DomainEvent) -> WaitOutcome,
    /// Deadline name in the orchestrator config (`service.deadlines.<name>`), and its default.
    pub deadline: (&'static str, Duration),
    pub on_timeout: OnTimeout,
    /// Where an operator retry of a parked wait restarts (e.g. the refund step).
    pub retry_from: Option<&'static str>,
    pub department: Department,
}

/// Where a decision leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Goto(&'static str),
    Complete,
}

/// Branch on saga data.
pub struct DecisionStep {
    pub name: &'static str,
    pub decide: fn(&Data) -> Result<Next, String>,
}

/// A branch of a parallel step: one command or one wait, run once per item.
pub enum Branch {
    Command(CommandStep),
    Wait(WaitStep),
}

/// Fan out one branch per item of the saga data and join when all have finished.
pub struct ParallelStep {
    pub name: &'static str,
    pub items: fn(&Data) -> Result<Vec<Value>, String>,
    pub branch: Branch,
}

pub enum Step {
    Command(CommandStep),
    Wait(WaitStep),
    Decision(DecisionStep),
    Parallel(ParallelStep),
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::Command(s) => s.name,
            Step::Wait(s) => s.name,
            Step::Decision(s) => s.name,
            Step::Parallel(s) => s.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Step::Command(_) => "command",
            Step::Wait(_) => "wait",
            Step::Decision(_) => "decision",
            Step::Parallel(_) => "parallel",
        }
    }

    /// The command or wait that each activity of this step runs.
    pub fn unit(&self) -> Option<Unit<'_>> {
        match self {
            Step::Command(c) => Some(Unit::Command(c)),
            Step::Wait(w) => Some(Unit::Wait(w)),
            Step::Parallel(p) => Some(match &p.branch {
                Branch::Command(c) => Unit::Command(c),
                Branch::Wait(w) => Unit::Wait(w),
            }),
            Step::Decision(_) => None,
        }
    }
}

/// What one activity runs.
#[derive(Clone, Copy)]
pub enum Unit<'a> {
    Command(&'a CommandStep),
    Wait(&'a WaitStep),
}

/// A trigger's start function: the business key and initial data, `None` when not for us.
pub type StartFn = fn(&DomainEvent) -> Result<Option<(String, Data)>, String>;

/// How a saga of this flow starts: from which domain event, with which data and key.
pub struct Trigger {
    pub event: &'static str,
    /// The saga's initial data and business key, or `None` when the event is not for this flow.
    pub start: StartFn,
}

/// A versioned flow definition.
pub struct Flow {
    pub name: &'static str,
    pub version: u32,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

impl Flow {
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name() == name)
    }

    /// Checks the definition: unique step names, goto and retry targets that exist.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.steps {
            if !seen.insert(s.name()) {
                return Err(format!("{}: duplicate step {}", self.name, s.name()));
            }
        }
        for s in &self.steps {
            if let Some(Unit::Wait(w)) = s.unit()
                && let Some(target) = w.retry_from
                && self.step_index(target).is_none()
            {
                return Err(format!("{}: unknown retry_from {target}", self.name));
            }
        }
        Ok(())
    }
}

/// The definitions the engine knows, every version of every flow.
pub struct Registry {
    flows: Vec<Flow>,
}

impl Registry {
    pub fn new(flows: Vec<Flow>) -> Result<Self, String> {
        for f in &flows {
            f.validate()?;
        }
        Ok(Self { flows })
    }

    /// The definition an instance is pinned to.
    pub fn get(&self, name: &str, version: u32) -> Option<&Flow> {
        self.flows
            .iter()
            .find(|f| f.name == name && f.version == version)
    }

    /// The newest version of each flow: the ones that start new sagas.
    pub fn latest(&self) -> Vec<&Flow> {
        let mut out: Vec<&Flow> = Vec::new();
        for f in &self.flows {
            match out.iter_mut().find(|o| o.name == f.name) {
                Some(o) if o.version < f.version => *o = f,
                Some(_) => {}
                None => out.push(f),
            }
        }
        out
    }

    /// Every wait step of every flow (parallel branches included).
    fn waits(&self) -> impl Iterator<Item = &WaitStep> {
        self.flows
            .iter()
            .flat_map(|f| f.steps.iter())
            .filter_map(|s| match s.unit() {
                Some(Unit::Wait(w)) => Some(w),
                _ => None,
            })
    }

    /// Every event name a trigger or a wait listens to.
    pub fn event_names(&self) -> Vec<&'static str> {
        let triggers = self.flows.iter().map(|f| f.trigger.event);
        sorted(triggers.chain(self.wait_event_names()).collect())
    }

    /// Names of every wait deadline (config keys `service.deadlines_ms.<name>`).
    pub fn deadline_names(&self) -> Vec<&'static str> {
        sorted(self.waits().map(|w| w.deadline.0).collect())
    }

    /// Event names that waits listen to (these are buffered when no saga waits yet).
    pub fn wait_event_names(&self) -> Vec<&'static str> {
        sorted(
            self.waits()
                .flat_map(|w| w.events.iter().copied())
                .collect(),
        )
    }
}

fn sorted(mut names: Vec<&'static str>) -> Vec<&'static str> {
    names.sort_unstable();
    names.dedup();
    names
}
