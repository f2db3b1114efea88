//! `bench cold-start`: spawn → first `GET /runtime/invocation/next`.

use std::time::Duration;

use crate::args::{BinSpec, ColdStartArgs};
use crate::child::{self, Log, RunError};
use crate::fake_api::{FakeApi, Mode, Signal};
use crate::report::{self, MIB, Summary};

struct Target {
    spec: BinSpec,
    size: u64,
    log: Log,
    init_ms: Vec<f64>,
    init_hwm_kib: Vec<f64>,
    error: Option<String>,
}

/// `Ok(true)`: every binary measured; `Ok(false)`: some binary failed to
/// reach `next` (reported in the table); `Err`: harness error.
pub async fn run(args: ColdStartArgs) -> Result<bool, String> {
    let mut targets = Vec::new();
    for spec in std::iter::once(args.hello.clone()).chain(args.bins.iter().cloned()) {
        let size = report::file_size(&spec.path).map_err(|e| format!("{}: {e}", spec.path.display()))?;
        let log =
            Log::create(&args.logs, &spec.name, "cold-start").map_err(|e| format!("{}: {e}", args.logs.display()))?;
        targets.push(Target {
            spec,
            size,
            log,
            init_ms: Vec::with_capacity(args.runs),
            init_hwm_kib: Vec::with_capacity(args.runs),
            error: None,
        });
    }

    let rounds = args.warmup + args.runs;
    for round in 0..rounds {
        let warm = round < args.warmup;
        eprint!(
            "\rcold-start: {} {}/{} ",
            if warm { "warm-up" } else { "round" },
            if warm { round + 1 } else { round - args.warmup + 1 },
            if warm { args.warmup } else { args.runs },
        );
        // Interleave: hello, a, b, hello, a, b, ... so drift hits all equally.
        for t in targets.iter_mut().filter(|t| t.error.is_none()) {
            t.log.banner(&format!("round {}{}", round + 1, if warm { " (warm-up)" } else { "" }));
            match measure_once(&t.spec, &t.log, args.timeout).await {
                Ok((ms, hwm)) => {
                    if !warm {
                        t.init_ms.push(ms);
                        if let Some(kib) = hwm {
                            t.init_hwm_kib.push(kib as f64);
                        }
                    }
                }
                Err(RunError::Io(e)) => {
                    return Err(format!("{}: {e}", t.spec.path.display()));
                }
                Err(e) => {
                    eprintln!("\ncold-start: {} {e}; see {}", t.spec.name, t.log.path.display());
                    t.error = Some(e.to_string());
                }
            }
        }
    }
    eprintln!();

    print_report(&args, &targets);
    Ok(targets.iter().all(|t| t.error.is_none()))
}

/// One spawn. Returns init time in ms and VmHWM (KiB) at the first `next`.
async fn measure_once(spec: &BinSpec, log: &Log, timeout: Duration) -> Result<(f64, Option<u64>), RunError> {
    // A fresh server (and port) per spawn: nothing from a previous, killed
    // process can be mistaken for this one's request.
    let mut api = FakeApi::start(Mode::ColdStart).await.map_err(RunError::Io)?;
    let mut cmd = child::command(&spec.path, &spec.name, api.addr, log).map_err(RunError::Io)?;
    let (mut proc, t0) = child::spawn_timed(&mut cmd).map_err(RunError::Io)?;
    let res = child::wait_for(&mut api, &mut proc, timeout, |s| matches!(s, Signal::FirstNext(_))).await;
    let out = match res {
        Ok(Signal::FirstNext(t)) => {
            let hwm = child::memory_kib(proc.id()).map(|(hwm, _)| hwm);
            Ok((t.saturating_duration_since(t0).as_secs_f64() * 1e3, hwm))
        }
        Ok(_) => unreachable!("filtered by wait_for"),
        Err(e) => Err(e),
    };
    child::kill(&mut proc);
    out
}

fn print_report(args: &ColdStartArgs, targets: &[Target]) {
    let hello_median =
        targets[0].error.is_none().then(|| report::summarize(&targets[0].init_ms)).flatten().map(|s| s.median);

    println!("### Cold start: spawn → first `GET /2018-06-01/runtime/invocation/next`\n");
    print!("{}", report::machine_facts());
    println!(
        "- Method: {} measured runs per binary (+{} warm-up discarded), interleaved {}; \
         fresh fake Runtime API per spawn; child killed at its first `next`",
        args.runs,
        args.warmup,
        targets.iter().map(|t| t.spec.name.as_str()).collect::<Vec<_>>().join(", "),
    );
    let verdict_header = match args.bar.describe() {
        Some(bar) => {
            println!("- Bar: median init {bar}'s median\n");
            format!("Verdict ({bar})")
        }
        None => {
            println!("- Bar: none (a measurement)\n");
            "Verdict".to_string()
        }
    };

    println!(
        "| Binary | Size (bytes) | Size (MiB) | Runs | Min (ms) | Median (ms) | p90 (ms) | Mean (ms) \
         | RSS at init (MiB) | Median / hello | Median − hello (ms) | {verdict_header} |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (i, t) in targets.iter().enumerate() {
        let name = if i == 0 { format!("`{}` (baseline)", t.spec.name) } else { format!("`{}`", t.spec.name) };
        let size = format!("{} | {}", t.size, report::mib(t.size));
        let summary: Option<Summary> = report::summarize(&t.init_ms);
        match (&t.error, summary) {
            (None, Some(s)) => {
                let rss = report::summarize(&t.init_hwm_kib)
                    .map_or_else(|| "n/a".into(), |r| format!("{:.1}", r.median * 1024.0 / MIB));
                let (ratio, verdict) = match hello_median {
                    Some(h) if h > 0.0 => {
                        let v = match args.bar.holds(s.median, h) {
                            _ if i == 0 => "baseline",
                            None => "measured",
                            Some(true) => "PASS",
                            Some(false) => "FAIL",
                        };
                        (format!("{:.2}× | {:+.2}", s.median / h, s.median - h), v.to_owned())
                    }
                    _ => ("n/a | n/a".into(), "n/a (no baseline)".into()),
                };
                println!(
                    "| {name} | {size} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {rss} | {ratio} | {verdict} |",
                    s.n, s.min, s.median, s.p90, s.mean
                );
            }
            (err, _) => {
                let err = err.as_deref().unwrap_or("no samples").replace('|', "\\|");
                println!("| {name} | {size} | {} | – | – | – | – | – | – | – | ERROR: {err} |", t.init_ms.len());
            }
        }
    }
    println!();
    println!(
        "Init time = `Instant` taken just before `spawn()` (fork/exec included) → `Instant` \
         taken in the fake API's handler when the first `next` request arrives. \
         Child output: `{}`.",
        args.logs.display()
    );
}
