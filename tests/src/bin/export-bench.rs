//! `export-bench`: the customer export job at several sizes. For each size it seeds a fresh
//! table with that many customers matching the export's filter (tag `bench`) plus a tenth as
//! many that do not, through the store's creation plan (the first 200 through the
//! transactional create, the rest loaded in batches from the same plan, as `search-bench`
//! does), asks for the export through the handler (`EXPORT_RUNNER=stream`, so nothing runs in
//! the request's process), then runs the job alone in a child process (`export-bench --job`),
//! which prints its time and its peak RSS (`VmHWM`) when done: that process is what the
//! export-job Lambda is. The file is then downloaded through the presigned link and parsed
//! with the `csv` crate, and must hold exactly the matching customers. Markdown on stdout,
//! progress on stderr.
//!
//! ```text
//! export-bench [--sizes 1000,25000]
//! ```
//!
//! Needs DYNAMODB_ENDPOINT and S3_ENDPOINT (or starts the local services itself like the
//! tests do). Build it in release mode for the figures.

use std::collections::BTreeSet;
use std::time::Instant;

use futures::StreamExt;
use integration_tests::{TestApp, http_get, test_audit, test_env};
use serde_json::{Value, json};
use shared::domain::export::ExportId;
use shared::domain::{Customer, CustomerId, PhoneE164, Username};
use shared::services::exports::{ExportJob, JobOutcome};
use shared::time::Timestamp;

const TRANSACTIONAL: usize = 200;
const TAG: &str = "bench";

fn customer(n: usize, matching: bool, now: i64) -> Customer {
    let first = ["Mary", "John", "Grace", "=cmd|' /C calc'!A0", "Chipo", "Mwansa"][n % 6];
    let last = ["Banda", "Phiri", "Mwale", "Zulu", "Tembo"][n % 5];
    let username = Username::parse(&format!("user{n}")).unwrap_or_else(|| Username::base(first, last));
    let created = Timestamp::from_unix(now - (n as i64 % 86_400));
    let mut c = Customer::new(CustomerId::generate(), username, (first.into(), last.into()), created);
    c.phone = PhoneE164::parse(
        &format!("+2609{}{:07}", 5 + n % 3, (n as u64 * 7_919) % 10_000_000),
        phonenumber::country::Id::ZM,
    )
    .ok();
    c.city = Some("Lusaka".into());
    c.country = Some("Zambia".into());
    c.notes = Some(format!("customer number {n}, with a note long enough to look like a real one"));
    c.tags = if matching { vec![TAG.into(), "vip".into()] } else { vec!["other".into()] };
    c
}

/// Seeds `matching` customers with the tag and `matching / 10` without; the matching ids.
async fn seed(t: &TestApp, matching: usize, now: i64) -> BTreeSet<String> {
    let store = &t.app().store;
    let note = test_audit();
    let total = matching + matching / 10;
    let mut ids = BTreeSet::new();
    let plans: Vec<(usize, Customer)> = (0..total).map(|n| (n, customer(n, n < matching, now))).collect();
    for (_, c) in plans.iter().filter(|(n, _)| *n < matching) {
        ids.insert(c.customer_id.as_str().to_string());
    }
    let (transactional, bulk): (Vec<_>, Vec<_>) =
        plans.into_iter().partition(|(n, _)| *n % (total / TRANSACTIONAL).max(1) == 0);
    let mut created =
        futures::stream::iter(transactional).map(|(_, c)| store.create_customer(c, &note, true)).buffer_unordered(16);
    while let Some(result) = created.next().await {
        result.expect("create customer");
    }
    // In chunks of 1,000, as `search-bench` does: a creation plan is some 30 items, so the
    // plans of every customer at once would hold gigabytes.
    let mut counters = shared::domain::stats::CounterChange::default();
    let mut lists = shared::store::postings::BlockSet::default();
    for chunk in bulk.chunks(1_000) {
        let mut puts = Vec::new();
        for (_, c) in chunk {
            let plan = store.creation_plan(c, &note).expect("plan");
            puts.extend(plan.actions.iter().filter_map(|a| a.put().map(|p| p.item().clone())));
            puts.extend(plan.overflow.puts);
            lists.add(c);
            for (name, delta) in shared::domain::stats::CounterChange::between(None, Some(c)).global {
                *counters.global.entry(name).or_insert(0) += delta;
            }
        }
        let batches: Vec<Vec<_>> = puts.chunks(200).map(<[_]>::to_vec).collect();
        futures::stream::iter(batches)
            .map(|batch| store.apply_index_overflow(batch, Vec::new()))
            .buffer_unordered(8)
            .for_each(|r| {
                r.expect("bulk put");
                futures::future::ready(())
            })
            .await;
    }
    store.merge_blocks(&lists).await.expect("posting lists");
    store.adjust_counters(&counters).await.expect("counters");
    ids
}

/// The child: runs one export job and prints `{outcome, seconds, peak_rss_kib}`.
async fn job(export_id: &str) {
    let app = shared::App::from_env().await.expect("config from the environment");
    let id = ExportId::parse(export_id).expect("an export id");
    let started = Instant::now();
    let outcome = ExportJob::of(&app).run_to_end(&id).await.expect("the job records its outcome");
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
    let outcome = match outcome {
        JobOutcome::Ready { rows } => json!({"ready": rows}),
        other => json!({"other": format!("{other:?}")}),
    };
    println!("{}", json!({"outcome": outcome, "seconds": seconds, "peak_rss_kib": peak}));
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Measured {
    size: usize,
    seed_seconds: f64,
    job_seconds: f64,
    peak_mib: f64,
    file_mib: f64,
    exact: bool,
}

async fn measure(size: usize) -> Measured {
    let now = Timestamp::now().unix();
    let t = TestApp::with_env(&[("EXPORT_RUNNER", "stream")]).await;
    let tokens = t.staff_tokens().await;
    eprintln!("export-bench: seeding {size} matching customers (+{})", size / 10);
    let started = Instant::now();
    let expected = seed(&t, size, now).await;
    let seed_seconds = started.elapsed().as_secs_f64();

    let created = t.call("POST", "/v1/exports/customers", Some(&tokens.admin), Some(json!({"tags": [TAG]}))).await;
    assert_eq!(created.status, 202, "{}", String::from_utf8_lossy(&created.body));
    let id = created.json()["export_id"].as_str().expect("export_id").to_string();

    eprintln!("export-bench: running the job in a child process");
    let vars = test_env(t.app().store.table(), &t.app().config.media_bucket, &[]);
    let output = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--job")
        .arg(&id)
        .env_clear()
        .envs(vars)
        .envs([("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")])
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run the job");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!("job output: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    });
    assert_eq!(report["outcome"]["ready"], size, "{report}");

    let export = t.call("GET", &format!("/v1/exports/{id}"), Some(&tokens.admin), None).await.json();
    let (status, body) = http_get(export["download_url"].as_str().expect("download_url")).await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let column = reader.headers().expect("header").iter().position(|h| h == "customer_id").expect("customer_id");
    let mut rows = 0usize;
    let mut exported = BTreeSet::new();
    for record in reader.records() {
        exported.insert(record.expect("a CSV record")[column].to_string());
        rows += 1;
    }
    Measured {
        size,
        seed_seconds,
        job_seconds: report["seconds"].as_f64().unwrap_or(0.0),
        peak_mib: report["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
        file_mib: body.len() as f64 / (1024.0 * 1024.0),
        exact: rows == size && exported == expected,
    }
}

#[tokio::main]
async fn main() {
    // The functions' log lines and metrics would mix into the report on stdout.
    shared::logging::init_to(shared::logging::Output::Discard);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, id] = args.as_slice()
        && flag == "--job"
    {
        return job(id).await;
    }
    let sizes: Vec<usize> = match args.as_slice() {
        [flag, list] if flag == "--sizes" => list.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        _ => vec![1_000, 25_000],
    };
    let mut results = Vec::new();
    for size in sizes {
        let m = measure(size).await;
        eprintln!(
            "export-bench: {size} rows: job {:.1} s, peak RSS {:.1} MiB, exact: {}",
            m.job_seconds, m.peak_mib, m.exact
        );
        results.push(m);
    }
    println!("| matching customers | seeding (s) | job (s) | job peak RSS (MiB) | file (MiB) | file = matching set |");
    println!("|---:|---:|---:|---:|---:|---|");
    for m in results {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            m.size,
            m.seed_seconds,
            m.job_seconds,
            m.peak_mib,
            m.file_mib,
            if m.exact { "yes" } else { "NO" }
        );
    }
}
