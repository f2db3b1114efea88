//! `worst-bodies`: how fast the worst request bodies are refused in a release build (issue #13's
//! bar: within 50 ms; judged on the p95 of each case, the maximum printed beside it). Sends each of `integration_tests::hostile::hostile_bodies()` (a
//! megabyte of unknown keys, of custom fields, of equal tags...) through the handler in-process,
//! the Lambda code path, against DynamoDB Local and moto like the tests. Markdown on stdout.
//!
//! ```text
//! worst-bodies [--runs 30]
//! ```
//!
//! Exit status 1 when a case answered anything but a 4xx other than 413, or its p95 was over
//! the bar; 2 on bad arguments.

use std::time::Duration;

use integration_tests::hostile::{HostileBody, hostile_bodies, send_timed};
use integration_tests::{StaffTokens, TestApp};

const BAR: Duration = Duration::from_millis(50);
const WARM_UP: usize = 3;

#[tokio::main]
async fn main() {
    // The functions' log lines and metrics would mix into the report on stdout.
    shared::logging::init_to(shared::logging::Output::Discard);
    let runs = runs_argument();
    let t = TestApp::new().await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let signed_in = t.sign_in("+260971000777", "Busy Body").await;
    let customer = signed_in["access_token"].as_str().unwrap_or_default().to_string();

    println!("### Worst request bodies (release build)\n");
    println!(
        "{runs} timed calls per case after {WARM_UP} warm-up calls, one at a time; bar: p95 within 50 ms. \
         Each route's control row sends a 13-byte body with one unknown key the same way: the \
         same path through authentication, the staff check and the handler, without the size.\n"
    );
    println!("| Route | Body | Size | Status | p50 ms | p95 ms | max ms | Bar |");
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    let mut all_met = true;
    let mut controlled: Vec<(&str, &str)> = Vec::new();
    let mut cases = Vec::new();
    for case in hostile_bodies() {
        if !controlled.contains(&(case.method, case.path)) {
            controlled.push((case.method, case.path));
            cases.push(HostileBody {
                method: case.method,
                path: case.path,
                sender: case.sender,
                shape: "control: `{\"unknown\":1}`",
                body: r#"{"unknown":1}"#.to_string(),
            });
        }
        cases.push(case);
    }
    for case in cases {
        let token = case.sender.token(&staff, &customer);
        let mut took = Vec::with_capacity(runs);
        let mut statuses = Vec::new();
        for n in 0..WARM_UP + runs {
            let (status, elapsed) = send_timed(&t, case.method, case.path, token, &case.body).await;
            statuses.push(status);
            if n >= WARM_UP {
                took.push(elapsed);
            }
        }
        took.sort();
        let refused = statuses.iter().all(|s| (400..500).contains(s) && *s != 413);
        let max = took.last().copied().unwrap_or_default();
        let p95 = percentile(&took, 0.95);
        let met = refused && p95 <= BAR;
        all_met &= met;
        println!(
            "| `{} {}` | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
            case.method,
            case.path,
            case.shape,
            size(case.body.len()),
            statuses[0],
            millis(percentile(&took, 0.50)),
            millis(p95),
            millis(max),
            if met { "met" } else { "**not met**" },
        );
    }
    if !all_met {
        std::process::exit(1);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn size(bytes: usize) -> String {
    if bytes < 10_000 { format!("{bytes} B") } else { format!("{} kB", bytes / 1000) }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn runs_argument() -> usize {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => 30,
        ["--runs", n] => n.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| usage()),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: worst-bodies [--runs N]");
    std::process::exit(2)
}
