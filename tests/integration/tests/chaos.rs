//! The crash suite: refund-only sagas run while the orchestrator is killed with SIGKILL at random
//! moments and restarted, a service is killed mid-run, and RabbitMQ itself is restarted. Every
//! saga must reach COMPLETED and every effect must have happened exactly once.
//!
//! `CHAOS_SAGAS` (default 12), `CHAOS_KILLS` (default 3), `CHAOS_BROKER_RESTART` (default 1) and
//! `CHAOS_REPLICAS` (orchestrator replicas, default 2) size the run; `just chaos` runs 50 sagas
//! with 6 kills. Every kill takes down all replicas at once. The last line is
//! `chaos: N sagas, N completed, 0 lost, 0 duplicate effects`; any loss or duplicate exits 1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/saga_world.rs"]
mod saga_world;

use aftersales_proto::orchestrator::v1::SagaStatus;
use saga_world::*;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rabbitmqctl(args: &[&str]) -> bool {
    std::process::Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

async fn restart_broker() -> bool {
    if !rabbitmqctl(&["stop_app"]) {
        return false;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    if !rabbitmqctl(&["start_app"]) {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if rabbitmqctl(&["-q", "await_startup"]) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run())
}

async fn run() -> ExitCode {
    let sagas = env_num("CHAOS_SAGAS", 12).max(1);
    let kills = env_num("CHAOS_KILLS", 3);
    let broker_restarts = env_num("CHAOS_BROKER_RESTART", 1);
    let replicas = env_num("CHAOS_REPLICAS", 2).max(1);
    let started = Instant::now();
    let orch_env = [
        ("AFTERSALES__SERVICE__COMMAND_TIMEOUT_MS", "3000"),
        ("AFTERSALES__SERVICE__RETRY__MAX_ATTEMPTS", "30"),
        ("AFTERSALES__SERVICE__RETRY__BASE_MS", "200"),
        ("AFTERSALES__SERVICE__RETRY__MAX_MS", "3000"),
    ];
    // The provider takes 250 ms per refund, so sagas are still in flight when the kills land.
    let slow = [(
        "payments",
        "AFTERSALES__SERVICE__SANDBOX__LATENCY_MS",
        "250",
    )];
    let mut w = World::start_replicated(&orch_env, &slow, replicas).await;
    let mut placed = Vec::with_capacity(sagas);
    for _ in 0..sagas {
        placed.push(w.place_order().await.unwrap());
    }
    let mut cases = Vec::with_capacity(sagas);
    let kill_every = (sagas / (kills + 1)).max(1);
    let mut kills_done = 0;
    let mut service_killed = false;
    let mut broker_done = 0;
    for (i, p) in placed.iter().enumerate() {
        cases.push(w.open_refund_only(p).await.unwrap());
        if i > 0 && i % kill_every == 0 && kills_done < kills {
            // Let some sagas get going, then kill the orchestrator in the middle of them.
            let pause = (uuid::Uuid::new_v4().as_u128() % 400) as u64;
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let in_flight = w.unfinished_sagas().await;
            w.kill_orchestrator();
            kills_done += 1;
            eprintln!(
                "chaos: killed the orchestrator after {} cases, {in_flight} sagas in flight",
                i + 1
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            w.restart_orchestrator().await;
        }
        if !service_killed && i == sagas / 2 {
            w.env.kill("payments");
            eprintln!("chaos: killed payments after {} cases", i + 1);
            tokio::time::sleep(Duration::from_millis(500)).await;
            w.restart_service("payments", &[(slow[0].1, slow[0].2)])
                .await;
            service_killed = true;
        }
        if broker_done < broker_restarts && i == (sagas * 3) / 4 {
            eprintln!("chaos: restarting RabbitMQ after {} cases", i + 1);
            if restart_broker().await {
                broker_done += 1;
            } else {
                eprintln!("chaos: rabbitmqctl could not restart the broker");
            }
        }
    }
    let mut retries = 0;
    let mut completed = 0;
    let mut lost = 0;
    // Any effect not exactly once (a second refund, a missing counter) counts here.
    let mut duplicates = 0;
    let deadline = Duration::from_secs(300);
    for (p, case_id) in placed.iter().zip(&cases) {
        let within = deadline
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(5));
        let s = w.try_wait_saga(case_id, within, terminal).await;
        match s {
            Ok(s) if status(&s) == SagaStatus::Completed => {
                completed += 1;
                let saga = w.saga(&s.saga_id).await.unwrap();
                retries += saga
                    .timeline
                    .iter()
                    .filter(|e| matches!(e.outcome.as_str(), "timed_out" | "retryable_failure"))
                    .count();
                let problems = w.refund_only_effects(p, case_id).await.unwrap();
                if !problems.is_empty() {
                    eprintln!("chaos: case {case_id}: {}", problems.join("; "));
                    duplicates += 1;
                }
            }
            Ok(s) => {
                eprintln!(
                    "chaos: case {case_id} ended {:?}: {}",
                    status(&s),
                    s.last_error
                );
                lost += 1;
            }
            Err(last) => {
                eprintln!("chaos: case {case_id} never finished: {last:?}");
                lost += 1;
            }
        }
    }
    eprintln!(
        "chaos: {replicas} orchestrator replicas, {kills_done} orchestrator kills, {} service kills, {broker_done} broker restarts, {retries} step retries, {:.1}s",
        u8::from(service_killed),
        started.elapsed().as_secs_f64()
    );
    println!(
        "chaos: {sagas} sagas, {completed} completed, {lost} lost, {duplicates} duplicate effects"
    );
    // A run that could not do the chaos it promised proves nothing.
    let wanted_kills = if sagas > kills { kills } else { kills_done };
    let chaos_done = kills_done == wanted_kills
        && broker_done == broker_restarts.min(1)
        && (service_killed || sagas < 2);
    if !chaos_done {
        eprintln!("chaos: the requested kills or broker restart did not all happen");
    }
    if chaos_done && lost == 0 && duplicates == 0 && completed == sagas {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
