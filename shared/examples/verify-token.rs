//! Micro-benchmark: the time to verify one access token as every function does on every
//! request (`JwtKeys::verify`: header, key by `kid`, ES256 signature, claims), and to issue one
//! (`auth` only). The bar: verification under 100 µs (docs/benchmarks.md).
//!
//! `cargo run --release -p shared --example verify-token [runs]`

use std::time::{Duration, Instant};

use shared::auth::JwtKeys;
use shared::auth::Role;
use shared::auth::es256::AccessKey;
use shared::time::Timestamp;

const ISSUER: &str = "https://api.example.com";

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let started = Instant::now();
    let signing = AccessKey::from_secret(b"bench-access-token-key-bench-access-token-key-01");
    let derive = started.elapsed();
    // Three published keys, as during a rotation; the token's is found by kid.
    let published = vec![
        AccessKey::from_secret(b"next-key-next-key-next-key-next-key").public,
        signing.public.clone(),
        AccessKey::from_secret(b"previous-key-previous-key-previous").public,
    ];
    let keys = JwtKeys::new(Some(signing), published, "customer-platform", Duration::from_secs(900));
    let token =
        keys.issue(ISSUER, "CUST_0E7E5700", Role::Customer, "AAAAAAAAAAAAAAAAAAAAAA", Timestamp::now()).expect("sign");

    let issue = per_call(runs / 4, || {
        keys.issue(ISSUER, "CUST_0E7E5700", Role::Customer, "AAAAAAAAAAAAAAAAAAAAAA", Timestamp::now()).expect("sign");
    });
    let verify = per_call(runs, || {
        keys.verify(&token, ISSUER).expect("valid");
    });
    println!("| Operation | Runs | Median | p95 |");
    println!("|---|---|---|---|");
    println!("| Verify one ES256 access token (3 keys published) | {runs} | {:.1} µs | {:.1} µs |", verify.0, verify.1);
    println!("| Issue one ES256 access token | {} | {:.1} µs | {:.1} µs |", runs / 4, issue.0, issue.1);
    println!(
        "| Derive the key pair from the secret (once per key, on the first token signed or verified) | 1 | {:.1} µs | |",
        micros(derive)
    );
}

/// Median and p95 of one call, in µs, over `runs` calls timed one by one.
fn per_call(runs: usize, mut call: impl FnMut()) -> (f64, f64) {
    for _ in 0..runs / 10 {
        call();
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            call();
            micros(started.elapsed())
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[runs / 2], times[runs * 95 / 100])
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
