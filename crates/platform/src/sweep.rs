//! Periodic sweeps a service runs on its own: the scheduler side of the "timer" RPCs (stuck
//! shipments, SLA breaches). Every replica runs them; a sweep pass must be safe to run
//! concurrently (row locks and state checks make a second pass find nothing to do).

use crate::Runtime;
use std::future::Future;
use std::time::Duration;

/// Most passes in one round: a round drains what is due, but never spins forever.
const MAX_PASSES_PER_ROUND: usize = 100;

/// Runs `pass` every `every` until the service shuts down; `every == 0` disables the sweep.
/// A pass answers whether more is due (`Ok(true)`: run again at once); a failed pass is logged
/// and retried at the next round.
pub fn spawn<C, F, Fut>(rt: &Runtime<C>, name: &'static str, every: Duration, pass: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<bool>> + Send,
{
    if every.is_zero() {
        tracing::info!(sweep = name, "sweep disabled");
        return;
    }
    let shutdown = rt.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.cancelled() => break,
            }
            for _ in 0..MAX_PASSES_PER_ROUND {
                match pass().await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(sweep = name, error = %e, "sweep pass failed");
                        break;
                    }
                }
            }
        }
    });
}
