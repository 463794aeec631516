//! The command line of `aftersalesctl` and the parsers of its values. Bad input is a clap usage
//! error (exit code 2) before anything is sent.

use crate::render::Output;
use aftersales_proto::{
    common::v1::{Actor, ActorKind, PageRequest},
    orchestrator::v1::{ListSagasRequest, SagaStatus},
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::time::Duration;

/// Where the orchestrator listens by default.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50050";
/// The orchestrator's limits on an action's reason and idempotency key.
const MAX_REASON_CHARS: usize = 4096;
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;

/// Operate the Aftersales saga orchestrator: find sagas, read their timelines, unstick them.
#[derive(Debug, Parser)]
#[command(name = "aftersalesctl", version)]
pub struct Cli {
    /// Orchestrator gRPC address, `http://host:port` (a bare `host:port` means http).
    #[arg(long, global = true, env = "AFTERSALES_ORCHESTRATOR_ADDR", default_value = DEFAULT_ADDR,
          value_parser = parse_addr)]
    pub addr: String,
    /// How to print results.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Who acts, as `<kind>:<id>`, written to the saga's audit log [default: staff:$USER]
    #[arg(long, global = true, env = "AFTERSALES_ACTOR", value_name = "KIND:ID",
          value_parser = parse_actor)]
    pub actor: Option<ActorArg>,
    /// Deadline for connecting and for the call, e.g. `10s`, `1m`.
    #[arg(long, global = true, default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find, inspect and unstick sagas.
    #[command(subcommand)]
    Saga(SagaCommand),
}

#[derive(Debug, Subcommand)]
pub enum SagaCommand {
    /// List sagas, newest first.
    List(ListArgs),
    /// Show one saga: summary, timeline, audit log and data.
    Show {
        /// The saga's id.
        #[arg(value_parser = parse_non_blank)]
        saga_id: String,
    },
    /// Retry the failed or parked step now.
    Retry(ActionArgs),
    /// Cancel: compensate every completed step in reverse order (refused past the pivot).
    Cancel(ActionArgs),
    /// Pause: record replies and events, but start no new step until resumed.
    Pause(ActionArgs),
    /// Resume a paused saga where it stopped.
    Resume(ActionArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this flow, e.g. `refund_only_not_shipped`.
    #[arg(long, value_parser = parse_non_blank)]
    pub flow: Option<String>,
    /// Only sagas in this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only the saga(s) of this business key, e.g. `case:<uuid>`.
    #[arg(long = "key", value_name = "BUSINESS_KEY", value_parser = parse_non_blank)]
    pub business_key: Option<String>,
    /// Only sagas created at least this long ago, e.g. `1h`, `2d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds)]
    pub older_than: Option<u64>,
    /// Only unfinished sagas that have not changed for a while (see --stuck-after).
    #[arg(long)]
    pub stuck: bool,
    /// How long without change makes a saga stuck [default: 5m, the orchestrator's]
    #[arg(long, value_name = "DURATION", requires = "stuck", value_parser = parse_seconds)]
    pub stuck_after: Option<u64>,
    /// Page size, 1..=200 [default: 50, the orchestrator's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,
    /// Token printed with the previous page.
    #[arg(long, value_name = "T", value_parser = parse_non_blank)]
    pub page_token: Option<String>,
}

impl ListArgs {
    pub fn to_request(&self) -> ListSagasRequest {
        ListSagasRequest {
            flow: self.flow.clone().unwrap_or_default(),
            status: self
                .status
                .map_or(SagaStatus::Unspecified, SagaStatus::from) as i32,
            business_key: self.business_key.clone().unwrap_or_default(),
            older_than_seconds: self.older_than.unwrap_or_default(),
            stuck: self.stuck,
            stuck_after_seconds: self.stuck_after.unwrap_or_default(),
            page: Some(PageRequest {
                page_size: self.limit.unwrap_or_default(),
                page_token: self.page_token.clone().unwrap_or_default(),
            }),
        }
    }
}

#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The saga's id.
    #[arg(value_parser = parse_non_blank)]
    pub saga_id: String,
    /// Why, for the audit log (required).
    #[arg(long, value_parser = parse_reason)]
    pub reason: String,
    /// Replaying a key returns the first result; reuse it to retry a call whose outcome is
    /// unknown [default: a fresh UUID]
    #[arg(long, value_name = "KEY", value_parser = parse_idempotency_key)]
    pub idempotency_key: Option<String>,
}

/// A saga status as `--status` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Running,
    Compensating,
    Paused,
    #[value(alias = "needs_attention")]
    NeedsAttention,
    Completed,
    Compensated,
}

impl From<StatusArg> for SagaStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Running => Self::Running,
            StatusArg::Compensating => Self::Compensating,
            StatusArg::Paused => Self::Paused,
            StatusArg::NeedsAttention => Self::NeedsAttention,
            StatusArg::Completed => Self::Completed,
            StatusArg::Compensated => Self::Compensated,
        }
    }
}

/// Who acts: `--actor staff:alice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorArg {
    pub kind: ActorKind,
    pub id: String,
}

impl ActorArg {
    /// `staff:$USER`, or `staff:operator` when `$USER` is unset or unusable.
    pub fn default_for(user: Option<&str>) -> Self {
        let id = user
            .map(str::trim)
            .filter(|u| !u.is_empty() && !u.chars().any(char::is_control))
            .unwrap_or("operator");
        Self {
            kind: ActorKind::Staff,
            id: id.to_owned(),
        }
    }

    pub fn to_proto(&self) -> Actor {
        Actor {
            kind: self.kind as i32,
            id: self.id.clone(),
        }
    }
}

const ACTOR_KINDS: [(&str, ActorKind); 5] = [
    ("staff", ActorKind::Staff),
    ("system", ActorKind::System),
    ("buyer", ActorKind::Buyer),
    ("merchant", ActorKind::Merchant),
    ("partner", ActorKind::Partner),
];

fn parse_actor(s: &str) -> Result<ActorArg, String> {
    let (kind, id) = s
        .split_once(':')
        .ok_or_else(|| "expected <kind>:<id>, e.g. staff:alice".to_owned())?;
    let kind = kind.trim().to_ascii_lowercase();
    let kind = ACTOR_KINDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            format!(
                "unknown actor kind `{kind}` (expected staff, system, buyer, merchant or partner)"
            )
        })?;
    let id = id.trim();
    if id.is_empty() {
        return Err("the actor id is empty".to_owned());
    }
    if id.chars().any(char::is_control) {
        return Err("the actor id contains control characters".to_owned());
    }
    Ok(ActorArg {
        kind,
        id: id.to_owned(),
    })
}

/// A plaintext gRPC address; `host:port` gets `http://`.
fn parse_addr(s: &str) -> Result<String, String> {
    let s = s.trim();
    let addr = if s.contains("://") {
        s.to_owned()
    } else {
        format!("http://{s}")
    };
    let uri: tonic::transport::Uri = addr.parse().map_err(|e| format!("not an address: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// is supported: the orchestrator serves plaintext gRPC".to_owned());
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the address has no host".to_owned());
    }
    Ok(addr)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (expected e.g. 30s, 5m, 1h, 2d, 1h30m)"))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(d)
}

/// A duration in whole seconds, at least one, as the list filters take it.
fn parse_seconds(s: &str) -> Result<u64, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".to_owned());
    }
    if d.subsec_nanos() != 0 {
        return Err("must be whole seconds".to_owned());
    }
    Ok(d.as_secs())
}

fn parse_non_blank(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(s.to_owned())
}

fn parse_reason(s: &str) -> Result<String, String> {
    let s = parse_non_blank(s)?;
    if s.chars().count() > MAX_REASON_CHARS {
        return Err(format!("must be at most {MAX_REASON_CHARS} characters"));
    }
    Ok(s)
}

fn parse_idempotency_key(s: &str) -> Result<String, String> {
    let s = parse_non_blank(s)?;
    if s.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(format!(
            "must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, error::ErrorKind};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("aftersalesctl").chain(args.iter().copied()))
    }

    fn list_args(args: &[&str]) -> ListArgs {
        let mut all = vec!["saga", "list"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Saga(SagaCommand::List(a)) => a,
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn globals_have_defaults_and_go_anywhere() {
        // Environment variables could override the defaults: only assert what they cannot.
        let cli = parse(&["saga", "show", "s-1", "--output", "json", "--timeout", "2s"]).unwrap();
        assert_eq!(cli.output, Output::Json);
        assert_eq!(cli.timeout, Duration::from_secs(2));
        let cli = parse(&["--addr", "orchestrator:50050", "saga", "list"]).unwrap();
        assert_eq!(cli.addr, "http://orchestrator:50050");
        let cli = parse(&["saga", "list", "--addr", "https://x:1"]);
        assert_eq!(cli.unwrap_err().kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("1h"), Ok(3600));
        assert_eq!(parse_seconds("5m"), Ok(300));
        assert_eq!(parse_seconds("1h 30m"), Ok(5400));
        assert_eq!(parse_seconds("2days"), Ok(172_800));
        assert!(parse_seconds("500ms").is_err());
        assert!(parse_seconds("1500ms").is_err());
        assert!(parse_seconds("0s").is_err());
        assert!(parse_seconds("-1h").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("").is_err());
        assert!(parse_seconds("99999999999999999999y").is_err());
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("0s").is_err());
    }

    #[test]
    fn list_filters_become_the_request() {
        let req = list_args(&[
            "--flow",
            "return_refund",
            "--status",
            "needs-attention",
            "--key",
            "case:1",
            "--older-than",
            "1h",
            "--stuck",
            "--stuck-after",
            "10m",
            "--limit",
            "20",
            "--page-token",
            "t",
        ])
        .to_request();
        assert_eq!(req.flow, "return_refund");
        assert_eq!(req.status, SagaStatus::NeedsAttention as i32);
        assert_eq!(req.business_key, "case:1");
        assert_eq!(req.older_than_seconds, 3600);
        assert!(req.stuck);
        assert_eq!(req.stuck_after_seconds, 600);
        let page = req.page.unwrap();
        assert_eq!((page.page_size, page.page_token.as_str()), (20, "t"));

        let req = list_args(&[]).to_request();
        assert_eq!(req.status, SagaStatus::Unspecified as i32);
        assert_eq!(req.page.unwrap().page_size, 0);
    }

    #[test]
    fn statuses() {
        for (arg, status) in [
            ("running", SagaStatus::Running),
            ("compensating", SagaStatus::Compensating),
            ("paused", SagaStatus::Paused),
            ("needs-attention", SagaStatus::NeedsAttention),
            ("needs_attention", SagaStatus::NeedsAttention),
            ("completed", SagaStatus::Completed),
            ("compensated", SagaStatus::Compensated),
        ] {
            let req = list_args(&["--status", arg]).to_request();
            assert_eq!(req.status, status as i32, "{arg}");
        }
        let err = parse(&["saga", "list", "--status", "stuck"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn bad_list_arguments_are_usage_errors() {
        for args in [
            &["saga", "list", "--stuck-after", "5m"][..],
            &["saga", "list", "--limit", "0"],
            &["saga", "list", "--limit", "201"],
            &["saga", "list", "--limit", "-3"],
            &["saga", "list", "--older-than", "yesterday"],
            &["saga", "list", "--flow", " "],
            &["saga", "list", "--bogus"],
            &["saga"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
    }

    #[test]
    fn actors() {
        let alice = parse_actor("staff:alice").unwrap();
        assert_eq!(alice.kind, ActorKind::Staff);
        assert_eq!(alice.id, "alice");
        assert_eq!(
            parse_actor(" System : retry-bot ").unwrap().kind,
            ActorKind::System
        );
        assert_eq!(parse_actor("partner:dhl:eu").unwrap().id, "dhl:eu");
        assert!(parse_actor("alice").is_err());
        assert!(parse_actor("staff:").is_err());
        assert!(parse_actor("staff:  ").is_err());
        assert!(parse_actor(":alice").is_err());
        assert!(parse_actor("boss:alice").is_err());
        assert!(parse_actor("unspecified:alice").is_err());
        assert!(parse_actor("staff:a\u{1b}b").is_err());
        assert_eq!(
            alice.to_proto(),
            Actor {
                kind: ActorKind::Staff as i32,
                id: "alice".into()
            }
        );
    }

    #[test]
    fn the_default_actor_is_the_login() {
        assert_eq!(ActorArg::default_for(Some("bob")).id, "bob");
        assert_eq!(ActorArg::default_for(Some("")).id, "operator");
        assert_eq!(ActorArg::default_for(None).id, "operator");
        assert_eq!(ActorArg::default_for(None).kind, ActorKind::Staff);
    }

    #[test]
    fn actions_need_a_reason() {
        let cli = parse(&["saga", "cancel", "s-1", "--reason", "buyer withdrew"]).unwrap();
        let Command::Saga(SagaCommand::Cancel(a)) = cli.command else {
            panic!("not a cancel");
        };
        assert_eq!(
            (a.saga_id.as_str(), a.reason.as_str()),
            ("s-1", "buyer withdrew")
        );
        assert_eq!(a.idempotency_key, None);

        for args in [
            &["saga", "retry", "s-1"][..],
            &["saga", "pause", "s-1", "--reason", "  "],
            &["saga", "resume", "--reason", "x"],
            &[
                "saga",
                "retry",
                "s-1",
                "--reason",
                "x",
                "--idempotency-key",
                "",
            ],
        ] {
            assert_eq!(parse(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert!(parse(&["saga", "retry", "s-1", "--reason", &long]).is_err());
        let long = "k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1);
        assert!(
            parse(&[
                "saga",
                "retry",
                "s",
                "--reason",
                "r",
                "--idempotency-key",
                &long
            ])
            .is_err()
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr(DEFAULT_ADDR).unwrap(), DEFAULT_ADDR);
        assert_eq!(parse_addr("127.0.0.1:1").unwrap(), "http://127.0.0.1:1");
        assert!(parse_addr("").is_err());
        assert!(parse_addr("http://").is_err());
        assert!(parse_addr("ftp://x:1").is_err());
        assert!(parse_addr("http://exa mple:1").is_err());
    }
}
