//! Black-box tests of the `aftersalesctl` binary against an in-process fake orchestrator.

mod fake;

use aftersales_proto::{
    common::v1::{Actor, ActorKind},
    orchestrator::v1::SagaStatus,
};
use fake::{Acted, Fake, MISSING, SLOW};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with a clean environment for its own variables and `USER=tester`.
async fn ctl(addr: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aftersalesctl"))
        .args(["--addr", addr])
        .args(args)
        .env_remove("AFTERSALES_ORCHESTRATOR_ADDR")
        .env_remove("AFTERSALES_ACTOR")
        .env("USER", "tester")
        .output()
        .await
        .expect("run aftersalesctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = format!("http://{}", listener.local_addr().expect("bound address"));
    drop(listener);
    addr
}

#[tokio::test]
async fn list_sends_the_filters_and_prints_a_page() {
    let (fake, addr) = Fake::start().await;
    let run = ctl(
        &addr,
        &[
            "saga",
            "list",
            "--flow",
            "return_refund",
            "--status",
            "needs-attention",
            "--older-than",
            "2h",
            "--stuck",
            "--stuck-after",
            "15m",
            "--limit",
            "2",
            "--page-token",
            "page-1",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("s-1") && run.stdout.contains("s-2"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("return_refund@1"));
    assert!(
        run.stdout
            .contains("2 sagas; next page: --page-token page-2")
    );

    let rec = fake.recorded();
    let req = &rec.lists[0];
    assert_eq!(req.flow, "return_refund");
    assert_eq!(req.status, SagaStatus::NeedsAttention as i32);
    assert_eq!(req.older_than_seconds, 7200);
    assert!(req.stuck);
    assert_eq!(req.stuck_after_seconds, 900);
    let page = req.page.as_ref().unwrap();
    assert_eq!((page.page_size, page.page_token.as_str()), (2, "page-1"));
    assert!(
        rec.grpc_timeout.is_some(),
        "the deadline is sent to the server"
    );
}

#[tokio::test]
async fn list_json_is_machine_readable() {
    let (_fake, addr) = Fake::start().await;
    let run = ctl(&addr, &["saga", "list", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["sagas"][1]["saga_id"], "s-2");
    assert_eq!(v["sagas"][0]["status"], "needs_attention");
    assert_eq!(v["sagas"][0]["updated_at"], "2026-01-01T01:00:00Z");
    assert_eq!(v["next_page_token"], "page-2");
}

#[tokio::test]
async fn show_prints_summary_timeline_audit_and_data() {
    let (_fake, addr) = Fake::start().await;
    let run = ctl(&addr, &["saga", "show", "s-9"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    for expected in [
        "saga          s-9",
        "status        needs_attention",
        "current step  refund_payment (attempt 4)",
        "receive_return",
        "event_received",
        "6m 40s",
        "parked",
        "staff:carol",
        "finance asked",
        "\"refund_minor\": 2500",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            run.stdout
        );
    }

    let run = ctl(&addr, &["saga", "show", "s-9", "--output", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["saga_id"], "s-9");
    assert_eq!(v["timeline"][1]["outcome"], "parked");
    assert_eq!(
        v["audit"][0]["actor"],
        serde_json::json!({"kind": "staff", "id": "carol"})
    );
    assert_eq!(v["data"]["refund_minor"], 2500);
}

#[tokio::test]
async fn actions_send_actor_reason_and_idempotency_key() {
    let (fake, addr) = Fake::start().await;
    let run = ctl(
        &addr,
        &[
            "saga",
            "retry",
            "s-1",
            "--reason",
            "payments is back",
            "--actor",
            "system:ops-bot",
            "--idempotency-key",
            "k-1",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("timeline"));

    let run = ctl(
        &addr,
        &["saga", "pause", "s-2", "--reason", "finance asked"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = ctl(
        &addr,
        &["saga", "resume", "s-2", "--reason", "go", "-o", "json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap();

    let rec = fake.recorded();
    assert_eq!(
        rec.actions[0],
        Acted {
            action: "retry",
            idempotency_key: "k-1".into(),
            actor: Some(Actor {
                kind: ActorKind::System as i32,
                id: "ops-bot".into()
            }),
            saga_id: "s-1".into(),
            reason: "payments is back".into(),
        }
    );
    let pause = &rec.actions[1];
    assert_eq!(pause.action, "pause");
    assert_eq!(
        pause.actor,
        Some(Actor {
            kind: ActorKind::Staff as i32,
            id: "tester".into()
        })
    );
    assert!(uuid::Uuid::parse_str(&pause.idempotency_key).is_ok());
    assert_ne!(pause.idempotency_key, rec.actions[2].idempotency_key);
}

#[tokio::test]
async fn a_broken_rule_prints_code_message_and_violation() {
    let (_fake, addr) = Fake::start().await;
    let run = ctl(&addr, &["saga", "cancel", "s-1", "--reason", "buyer asked"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: FAILED_PRECONDITION: saga_past_pivot: the refund was sent\n  \
         precondition saga_past_pivot: the refund was sent\n"
    );

    let run = ctl(&addr, &["saga", "resume", "s-1", "--reason", "bad"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("error: INVALID_ARGUMENT: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("  field reason: too vague\n"),
        "{}",
        run.stderr
    );

    let run = ctl(&addr, &["saga", "show", MISSING]).await;
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "error: NOT_FOUND: saga missing not found\n");
}

#[tokio::test]
async fn a_slow_action_times_out_with_the_key_to_replay() {
    let (_fake, addr) = Fake::start().await;
    let run = ctl(
        &addr,
        &[
            "saga",
            "pause",
            SLOW,
            "--reason",
            "r",
            "--idempotency-key",
            "k-slow",
            "--timeout",
            "300ms",
        ],
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(&format!(
        "no answer from the orchestrator at {addr} within 300ms"
    )));
    assert!(
        run.stderr.contains("--idempotency-key k-slow"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn nothing_listening_exits_3_naming_the_address() {
    let addr = closed_port();
    let run = ctl(&addr, &["saga", "list"]).await;
    assert_eq!(run.code, 3);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with(&format!("error: cannot reach the orchestrator at {addr}: ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("AFTERSALES_ORCHESTRATOR_ADDR"));
}

#[tokio::test]
async fn usage_errors_exit_2_before_connecting() {
    let addr = closed_port();
    for args in [
        &["saga", "retry", "s-1"][..],
        &["saga", "retry", "s-1", "--reason", "r", "--actor", "nobody"],
        &["saga", "list", "--older-than", "a while"],
        &["saga", "list", "--status", "stuck"],
        &["saga", "show"],
        &["saga", "list", "--timeout", "0s"],
        &["saga", "list", "--output", "yaml"],
        &["nonsense"],
    ] {
        let run = ctl(&addr, args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(ctl(&addr, &["--help"]).await.code, 0);
}
