//! `aftersalesctl`: the operator CLI of the Aftersales saga orchestrator.
//!
//! Exit codes: 0 success, 1 the orchestrator answered with an error, 2 usage error, 3 the
//! orchestrator is unreachable or did not answer in time.

mod app;
mod cli;
mod client;
mod error;
mod render;

use clap::Parser;
use std::{io::Write, process::ExitCode};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {err}"
            );
            return ExitCode::from(error::EXIT_SERVER);
        }
    };
    match runtime.block_on(app::run(cli)) {
        // A closed stdout (`| head`) is not worth a panic or an error; any other failure to
        // write the answer is.
        Ok(out) => match std::io::stdout().lock().write_all(out.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
                ExitCode::from(error::EXIT_SERVER)
            }
            _ => ExitCode::SUCCESS,
        },
        Err(err) => {
            let _ = std::io::stderr().lock().write_all(err.report().as_bytes());
            ExitCode::from(err.exit_code())
        }
    }
}
