//! `bench memory`: peak RSS while serving N sequential invocations.

use hyper::body::Bytes;

use crate::args::{BinSpec, MemoryArgs};
use crate::child::{self, Log, RunError};
use crate::fake_api::{FakeApi, LoadStats, Mode, Signal};
use crate::report::{self, MIB};

/// The bar: peak RSS (VmHWM) at most this many MiB.
pub const MAX_PEAK_MIB: f64 = 64.0;

struct Outcome {
    spec: BinSpec,
    size: u64,
    log: Log,
    stats: LoadStats,
    /// (VmHWM, VmRSS) in KiB after the last response.
    mem_kib: Option<(u64, u64)>,
    error: Option<String>,
}

pub async fn run(args: MemoryArgs) -> Result<bool, String> {
    let mut outcomes = Vec::new();
    for spec in &args.bins {
        let size = report::file_size(&spec.path).map_err(|e| format!("{}: {e}", spec.path.display()))?;
        let event_path = spec.event.as_ref().expect("memory specs carry an event");
        let event = std::fs::read(event_path).map_err(|e| format!("{}: {e}", event_path.display()))?;
        serde_json::from_slice::<serde_json::Value>(&event)
            .map_err(|e| format!("{}: not JSON: {e}", event_path.display()))?;
        let mut log =
            Log::create(&args.logs, &spec.name, "memory").map_err(|e| format!("{}: {e}", args.logs.display()))?;
        log.banner(&format!("{} invocations of {}", args.requests, event_path.display()));

        eprintln!("memory: {} × {} ...", spec.name, args.requests);
        let (stats, mem_kib, error) = measure(spec, &log, Bytes::from(event), &args).await?;
        if let Some(e) = &error {
            eprintln!("memory: {} {e}; see {}", spec.name, log.path.display());
        }
        outcomes.push(Outcome { spec: spec.clone(), size, log, stats, mem_kib, error });
    }
    print_report(&args, &outcomes);
    Ok(outcomes.iter().all(|o| o.error.is_none() && o.mem_kib.is_some()))
}

type Measured = (LoadStats, Option<(u64, u64)>, Option<String>);

async fn measure(spec: &BinSpec, log: &Log, event: Bytes, args: &MemoryArgs) -> Result<Measured, String> {
    let harness = |e: std::io::Error| format!("{}: {e}", spec.path.display());
    let mut api = FakeApi::start(Mode::Load {
        event,
        invocations: args.requests,
        function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", spec.name),
    })
    .await
    .map_err(harness)?;
    let mut cmd = child::command(&spec.path, &spec.name, api.addr, log).map_err(harness)?;
    let (mut proc, _) = child::spawn_timed(&mut cmd).map_err(harness)?;
    let res = child::wait_for(&mut api, &mut proc, args.timeout, |s| matches!(s, Signal::AllDone)).await;
    // Read VmHWM while the process is still alive (parked on its next `next`).
    let mem = child::memory_kib(proc.id());
    child::kill(&mut proc);
    let stats = api.take_stats();
    match res {
        Ok(_) => Ok((stats, mem, None)),
        Err(RunError::Io(e)) => Err(harness(e)),
        Err(e) => {
            let msg = format!("{e} after {}/{} invocations", stats.completed, args.requests);
            Ok((stats, None, Some(msg)))
        }
    }
}

fn print_report(args: &MemoryArgs, outcomes: &[Outcome]) {
    println!("### Peak memory under load\n");
    print!("{}", report::machine_facts());
    println!(
        "- Method: {} sequential invocations per binary from the fake Runtime API; \
         peak RSS = `VmHWM` from `/proc/<pid>/status` after the last response, before kill",
        args.requests
    );
    println!("- Bar: peak RSS ≤ {MAX_PEAK_MIB} MiB\n");
    println!(
        "| Binary | Event | Size (MiB) | Invocations | Peak RSS (MiB) | RSS at end (MiB) | Req/s \
         | p50 (ms) | p99 (ms) | 5xx | `/error` | Verdict (≤ {MAX_PEAK_MIB} MiB) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");

    let mut warnings = Vec::new();
    for o in outcomes {
        let s = &o.stats;
        let event = o.spec.event.as_ref().map_or_else(String::new, |p| p.display().to_string());
        let head =
            format!("| `{}` | `{event}` | {} | {}/{}", o.spec.name, report::mib(o.size), s.completed, args.requests);
        if let Some(err) = &o.error {
            println!(
                "{head} | – | – | – | – | – | {} | {} | ERROR: {} |",
                s.status_5xx,
                s.error_posts,
                err.replace('|', "\\|")
            );
            continue;
        }
        let (hwm, rss) = o.mem_kib.unwrap_or((0, 0));
        let peak_mib = hwm as f64 * 1024.0 / MIB;
        let rps = match (s.first_next, s.last_done) {
            (Some(a), Some(b)) if b > a => {
                format!("{:.0}", s.completed as f64 / (b - a).as_secs_f64())
            }
            _ => "n/a".into(),
        };
        let mut lat: Vec<f64> = s.latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        lat.sort_by(f64::total_cmp);
        let (p50, p99) = if lat.is_empty() {
            ("n/a".into(), "n/a".into())
        } else {
            (format!("{:.2}", report::percentile(&lat, 0.50)), format!("{:.2}", report::percentile(&lat, 0.99)))
        };
        let invalid = s.status_5xx > 0 || s.error_posts > 0;
        let verdict = if o.mem_kib.is_none() {
            "ERROR: could not read /proc status"
        } else if invalid {
            "INVALID (see warning)"
        } else if peak_mib <= MAX_PEAK_MIB {
            "PASS"
        } else {
            "FAIL"
        };
        println!(
            "{head} | {peak_mib:.1} | {:.1} | {rps} | {p50} | {p99} | {} | {} | {verdict} |",
            rss as f64 * 1024.0 / MIB,
            s.status_5xx,
            s.error_posts,
        );
        if s.status_5xx > 0 {
            warnings.push(format!(
                "> **Warning:** `{}` answered {}/{} invocations with `statusCode` ≥ 500; \
                 a function returning 500s is not a valid measurement (check its env / backing \
                 services; logs in `{}`). First: `{}`",
                o.spec.name,
                s.status_5xx,
                s.completed,
                o.log.path.display(),
                s.first_5xx.as_deref().unwrap_or("").replace('`', "'"),
            ));
        }
        if s.error_posts > 0 {
            warnings.push(format!(
                "> **Warning:** `{}` posted {}/{} invocation errors (`/error`); not a valid \
                 measurement (logs in `{}`). First: `{}`",
                o.spec.name,
                s.error_posts,
                s.completed,
                o.log.path.display(),
                s.first_error.as_deref().unwrap_or("").replace('`', "'"),
            ));
        }
    }
    println!();
    for w in &warnings {
        println!("{w}\n");
    }
    println!(
        "Req/s = invocations ÷ (last response − first `next`); p50/p99 = per-invocation \
         latency from the fake API answering `next` to receiving the response. \
         Child output: `{}`.",
        args.logs.display()
    );
}
