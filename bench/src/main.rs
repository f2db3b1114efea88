//! `bench`: cold-start, binary-size and peak-memory benchmark for the Lambda
//! binaries, driven against an in-process fake Lambda Runtime API.
//!
//! Markdown goes to stdout (paste into docs/benchmarks.md), progress to
//! stderr, child output to `target/bench-logs/`. Exit status: 0 when every
//! binary was measured (whatever the verdicts), 1 when some binary could not
//! be measured (crashed, timed out, posted init/error), 2 on usage or harness
//! errors.

mod args;
mod child;
mod coldstart;
mod fake_api;
mod memory;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cmd = match args::parse(std::env::args().skip(1)) {
        Ok(cmd) => cmd,
        Err(msg) if msg == args::USAGE => {
            println!("{msg}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("bench: {msg}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };

    // Single-threaded on purpose: the harness is idle in epoll while a child
    // initialises, so it takes as little CPU as possible away from the child
    // on a small machine, and the arrival timestamp is taken on the thread
    // that is woken by the child's request.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async {
        match cmd {
            args::Command::ColdStart(a) => coldstart::run(a).await,
            args::Command::Memory(a) => memory::run(a).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}
