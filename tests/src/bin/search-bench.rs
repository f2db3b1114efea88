//! `search-bench`: the search benchmark. Seeds customers into DynamoDB Local through the
//! store's real creation path (concurrently, with realistic names, places, tags, phones and
//! dates, plus a planted set of 50 sharing a rare surname and tag), then measures search,
//! facets and statistics through the handler in-process at each size, and the same one-word
//! query answered by a Scan with a FilterExpression, for comparison. Markdown on stdout,
//! progress on stderr.
//!
//! ```text
//! search-bench [--sizes 1000,100000] [--iterations 200] [--concurrency 24] [--transactional 1000]
//! ```
//!
//! The first `--transactional` customers go through `Store::create_customer`, one
//! TransactWriteItems each, exactly as a create does. DynamoDB Local runs about 28 of those
//! transactions a second on this machine whatever the concurrency (an hour for 100,000), so the
//! rest are loaded from the same creation plan (`Store::creation_plan`: the same items, keys and
//! entries) with BatchWriteItem, and their counter moves are summed and applied once: the table
//! ends up as the transactional path would leave it (`search-index verify` reports no drift).
//!
//! Needs DYNAMODB_ENDPOINT and S3_ENDPOINT (see `scripts/bench-search`), or starts the local
//! services itself like the tests do. Build it in release mode for the latency figures.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use futures::StreamExt;
use integration_tests::{TestApp, test_audit};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use shared::domain::{Customer, CustomerId, EmailAddress, PhoneE164, Username};
use shared::store::Capacity;
use shared::time::Timestamp;

const FIRST: &[&str] = &[
    "Mary",
    "John",
    "Grace",
    "Joseph",
    "Ruth",
    "Peter",
    "Esther",
    "David",
    "Mercy",
    "James",
    "Agnes",
    "Daniel",
    "Memory",
    "Emmanuel",
    "Precious",
    "Moses",
    "Chipo",
    "Mwansa",
    "Bwalya",
    "Chilufya",
    "Mulenga",
    "Natasha",
    "Thandiwe",
    "Kondwani",
    "Lweendo",
    "Nchimunya",
    "Musonda",
    "Kabwe",
    "Mutale",
    "Chanda",
    "Mwila",
    "Kasonde",
    "Lubasi",
    "Inonge",
    "Namakau",
    "Sipho",
    "Ama",
    "Kwame",
    "Aisha",
    "Fatima",
    "Ngozi",
    "Chinedu",
    "José",
    "María",
    "Zoë",
    "Chloé",
    "François",
    "Ángel",
    "Mohammed",
    "Priya",
    "Wei",
    "Yuki",
    "Olga",
    "Ivan",
    "Sven",
    "Ingrid",
    "Siobhán",
    "Seán",
    "Anna",
    "Anne",
    "Ann",
    "Hannah",
    "Joy",
    "Faith",
    "Hope",
    "Patience",
    "Beatrice",
    "Given",
    "Gift",
    "Blessing",
    "Elijah",
    "Isaac",
    "Samuel",
    "Rebecca",
    "Sarah",
    "Lydia",
    "Martha",
    "Paul",
];
const LAST: &[&str] = &[
    "Mulenga",
    "Banda",
    "Phiri",
    "Mwale",
    "Tembo",
    "Zulu",
    "Sakala",
    "Lungu",
    "Chanda",
    "Mwansa",
    "Bwalya",
    "Musonda",
    "Kabwe",
    "Mutale",
    "Chola",
    "Ngoma",
    "Daka",
    "Nkhoma",
    "Mbewe",
    "Kunda",
    "Chileshe",
    "Mumba",
    "Katongo",
    "Kalaba",
    "Simwinga",
    "Hamoonga",
    "Mweemba",
    "Habeenzu",
    "Siame",
    "Sichone",
    "Nyirenda",
    "Njobvu",
    "Mwanza",
    "Mwanakatwe",
    "Kapembwa",
    "Chisanga",
    "Mutinta",
    "Lubinda",
    "Mubita",
    "Sitali",
    "Akapelwa",
    "Okafor",
    "Mensah",
    "Osei",
    "Ndlovu",
    "Dlamini",
    "Nkosi",
    "García",
    "Núñez",
    "Müller",
    "O'Brien",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Patel",
    "Khan",
    "Chen",
    "Wang",
    "Kowalski",
    "Novák",
    "Silva",
    "Santos",
    "Rossi",
    "Dubois",
    "Martin",
    "Bernard",
    "Moreau",
];
/// Places, most customers first (each listed as often as it is common).
const PLACES: &[(&str, &str)] = &[
    ("Lusaka", "Zambia"),
    ("Lusaka", "Zambia"),
    ("Lusaka", "Zambia"),
    ("Lusaka", "Zambia"),
    ("Ndola", "Zambia"),
    ("Ndola", "Zambia"),
    ("Kitwe", "Zambia"),
    ("Kitwe", "Zambia"),
    ("Kabwe", "Zambia"),
    ("Livingstone", "Zambia"),
    ("Chipata", "Zambia"),
    ("Solwezi", "Zambia"),
    ("Kasama", "Zambia"),
    ("Mongu", "Zambia"),
    ("Mansa", "Zambia"),
    ("Choma", "Zambia"),
    ("Chingola", "Zambia"),
    ("Mufulira", "Zambia"),
    ("Lilongwe", "Malawi"),
    ("Blantyre", "Malawi"),
    ("Harare", "Zimbabwe"),
    ("Bulawayo", "Zimbabwe"),
    ("Gaborone", "Botswana"),
    ("Johannesburg", "South Africa"),
    ("Cape Town", "South Africa"),
    ("Nairobi", "Kenya"),
    ("Dar es Salaam", "Tanzania"),
];
const TAGS: &[&str] = &[
    "premium",
    "vip",
    "salaried",
    "farmer",
    "trader",
    "student",
    "pensioner",
    "late-payer",
    "referral",
    "promo-2026",
    "sms-only",
    "business",
    "diaspora",
    "new",
    "dormant",
    "high-value",
    "staff",
    "partner",
    "kyc-pending",
    "loyal",
];
const PLANTED_SURNAME: &str = "Quillfeather";
const PLANTED_TAG: &str = "cohort-q7";
const PLANTED: usize = 50;
/// Customers created over the last two years.
const SPAN_SECONDS: i64 = 2 * 365 * 86_400;

struct Args {
    sizes: Vec<usize>,
    iterations: usize,
    concurrency: usize,
    transactional: usize,
    /// The Scan comparison and the index check (`verify`, `reindex`, `verify`) run only at
    /// sizes up to this: DynamoDB Local's Scan slows with the table (at 100,000 they do not end).
    checks_up_to: usize,
}

fn args() -> Args {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| raw.iter().position(|a| a == name).and_then(|i| raw.get(i + 1)).cloned();
    Args {
        sizes: flag("--sizes")
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1_000, 100_000]),
        iterations: flag("--iterations").and_then(|n| n.parse().ok()).unwrap_or(200),
        concurrency: flag("--concurrency").and_then(|n| n.parse().ok()).unwrap_or(24),
        transactional: flag("--transactional").and_then(|n| n.parse().ok()).unwrap_or(1_000),
        checks_up_to: flag("--checks-up-to").and_then(|n| n.parse().ok()).unwrap_or(10_000),
    }
}

/// Syllables of generated names: with the common names above as the head, names follow a
/// Zipf distribution over a few thousand, as real surnames do (a handful are very common,
/// most are rare).
const SYLLABLES: &[&str] = &[
    "ba", "bwa", "cha", "chi", "da", "fu", "ha", "ka", "ko", "la", "le", "lu", "ma", "mbe", "mu", "mwa", "na", "nda",
    "nga", "ngo", "nji", "nko", "pa", "pe", "sa", "se", "si", "ta", "te", "wa",
];

/// The `count` names by rank: `head` first, then generated ones.
fn names_by_rank(head: &[&str], count: usize) -> Vec<String> {
    let mut names: Vec<String> = head.iter().map(|n| n.to_string()).collect();
    let s = SYLLABLES.len();
    let mut i = 0usize;
    while names.len() < count {
        let (a, b, c) = (i % s, (i / s) % s, (i / (s * s)) % s);
        let name = format!("{}{}{}", SYLLABLES[(a * 7 + 3) % s], SYLLABLES[(b * 11 + 5) % s], SYLLABLES[c]);
        let mut chars = name.chars();
        let capitalised: String = chars.next().map(|f| f.to_ascii_uppercase()).into_iter().chain(chars).collect();
        if !names.contains(&capitalised) {
            names.push(capitalised);
        }
        i += 1;
    }
    names
}

/// A Zipf sampler (exponent 1) over ranked names.
struct Zipf {
    names: Vec<String>,
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(names: Vec<String>) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=names.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { names, cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random_range(0.0..total);
        let rank = self.cumulative.partition_point(|c| *c < x).min(self.names.len() - 1);
        &self.names[rank]
    }
}

fn surnames() -> &'static Zipf {
    static SURNAMES: std::sync::OnceLock<Zipf> = std::sync::OnceLock::new();
    SURNAMES.get_or_init(|| Zipf::new(names_by_rank(LAST, 3_000)))
}

fn first_names() -> &'static Zipf {
    static FIRST_NAMES: std::sync::OnceLock<Zipf> = std::sync::OnceLock::new();
    FIRST_NAMES.get_or_init(|| Zipf::new(names_by_rank(FIRST, 600)))
}

/// The benchmark's one-word query: the first five letters of the surname of rank 150 (about
/// one customer in 800 has it; a few other surnames share the prefix).
fn probe_word() -> String {
    shared::domain::search::fold(&surnames().names[150]).chars().take(5).collect()
}

/// Customer number `n`: the first `PLANTED` share the rare surname and tag.
fn customer(n: usize, now: i64) -> Customer {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let first = first_names().sample(&mut rng).to_string();
    let last = if n < PLANTED { PLANTED_SURNAME.to_string() } else { surnames().sample(&mut rng).to_string() };
    let (first, last) = (first.as_str(), last.as_str());
    let created = Timestamp::from_unix(now - rng.random_range(0..SPAN_SECONDS));
    let id = CustomerId::generate();
    // Numbered usernames and scrambled numbered phones: unique without a look-up, as the bulk
    // load writes sentinels without the transactional path's collision handling.
    let username = Username::parse(&format!("{}{n}", Username::base(first, last).as_str()))
        .unwrap_or_else(|| Username::base(first, last));
    let mut c = Customer::new(id, username, (first.into(), last.into()), created);
    let phone = format!("+2609{}{:07}", 5 + n % 3, (n as u64 * 7_919) % 10_000_000);
    c.phone = PhoneE164::parse(&phone, phonenumber::country::Id::ZM).ok();
    c.phone_verified = rng.random_bool(0.7);
    if rng.random_bool(0.7) {
        let local = format!("{}.{}{}", first, last, n).to_lowercase().replace(['\'', ' '], "");
        c.email = EmailAddress::parse(&format!("{}@example.com", deunicode(&local))).ok();
    }
    let (city, country) = PLACES.choose(&mut rng).copied().unwrap_or(("Lusaka", "Zambia"));
    c.city = Some(city.into());
    c.country = Some(country.into());
    let mut tags: Vec<String> = TAGS.iter().filter(|_| rng.random_bool(0.08)).map(|t| t.to_string()).collect();
    if n < PLANTED {
        tags.push(PLANTED_TAG.into());
    }
    c.tags = tags;
    c.gender = ["male", "female"].choose(&mut rng).map(|g| g.to_string());
    if rng.random_bool(0.6) {
        c.date_of_birth = Some(format!(
            "{}-{:02}-{:02}",
            rng.random_range(1950..2006),
            rng.random_range(1..13),
            rng.random_range(1..29)
        ));
    }
    if rng.random_bool(0.05) {
        c.status = shared::domain::CustomerStatus::Suspended;
    }
    if rng.random_bool(0.5) {
        c.last_login_at = Some(Timestamp::from_unix(now - rng.random_range(0..60 * 86_400)));
    }
    c
}

fn deunicode(text: &str) -> String {
    shared::domain::search::fold(text)
}

/// Grows the table to `target` customers; returns the seconds it took.
async fn seed(t: &TestApp, from: usize, target: usize, args: &Args, now: i64) -> f64 {
    let started = Instant::now();
    let transactional = target.min(args.transactional).max(from);
    seed_transactional(t, from, transactional, args.concurrency, now).await;
    if target > transactional {
        seed_bulk(t, transactional, target, args.concurrency, now).await;
    }
    started.elapsed().as_secs_f64()
}

async fn seed_transactional(t: &TestApp, from: usize, target: usize, concurrency: usize, now: i64) {
    let started = Instant::now();
    let note = test_audit();
    let store = &t.app().store;
    let mut done = from;
    let mut stream = futures::stream::iter(from..target)
        .map(|n| {
            let note = &note;
            async move { store.create_customer(customer(n, now), note, false).await }
        })
        .buffer_unordered(concurrency);
    while let Some(result) = stream.next().await {
        if let Err(err) = result {
            eprintln!("search-bench: a seed create failed: {err}");
            std::process::exit(1);
        }
        done += 1;
        if done.is_multiple_of(500) {
            eprintln!("  created {done} customers ({:.0}/s)", (done - from) as f64 / started.elapsed().as_secs_f64());
        }
    }
}

/// The creation plans of customers `from..target`, their puts written in batches and their
/// counter moves summed and applied once.
async fn seed_bulk(t: &TestApp, from: usize, target: usize, concurrency: usize, now: i64) {
    let started = Instant::now();
    let store = &t.app().store;
    let note = test_audit();
    let mut counters = shared::domain::stats::CounterChange::default();
    let mut facets: std::collections::BTreeMap<(shared::domain::stats::Facet, String), (String, i64)> =
        Default::default();
    let mut days: std::collections::BTreeMap<(time::Date, &str), i64> = Default::default();
    // Posting lists gathered for every customer and written once at the end.
    let mut lists = shared::store::postings::BlockSet::default();
    for chunk_start in (from..target).step_by(1_000) {
        let mut puts = Vec::new();
        for n in chunk_start..(chunk_start + 1_000).min(target) {
            let c = customer(n, now);
            let plan = store.creation_plan(&c, &note).expect("plan");
            puts.extend(plan.actions.iter().filter_map(|a| a.put().map(|p| p.item().clone())));
            puts.extend(plan.overflow.puts);
            lists.add(&c);
            let change = shared::domain::stats::CounterChange::between(None, Some(&c));
            for (name, delta) in change.global {
                *counters.global.entry(name).or_insert(0) += delta;
            }
            for (facet, value, delta) in change.facets {
                facets.entry((facet, value.key)).or_insert((value.display, 0)).1 += delta;
            }
            *days.entry((c.created_at.date(), "signups")).or_insert(0) += 1;
            if let Some(at) = c.last_login_at {
                *days.entry((at.date(), "logins")).or_insert(0) += 1;
            }
        }
        let batches: Vec<Vec<_>> = puts.chunks(25 * 8).map(<[_]>::to_vec).collect();
        futures::stream::iter(batches)
            .map(|batch| store.apply_index_overflow(batch, Vec::new()))
            .buffer_unordered(concurrency.min(8))
            .for_each(|r| {
                r.expect("bulk put");
                futures::future::ready(())
            })
            .await;
        let done = (chunk_start + 1_000).min(target);
        if done.is_multiple_of(5_000) || done == target {
            eprintln!("  loaded {done} customers ({:.0}/s)", (done - from) as f64 / started.elapsed().as_secs_f64());
        }
    }
    eprintln!("  writing {} posting-list blocks", lists.blocks.len());
    store.merge_blocks(&lists).await.expect("posting lists");
    counters.facets = facets
        .into_iter()
        .map(|((facet, key), (display, delta))| (facet, shared::domain::stats::FacetValue { key, display }, delta))
        .collect();
    store.adjust_counters(&counters).await.expect("counters");
    for ((day, counter), delta) in days {
        store.adjust_day_counter(day, counter, delta).await.expect("daily counter");
    }
}

/// Per size: customers, seeding seconds, the measured requests, and the Scan's (time, RCU,
/// matches).
type SizeResult = (usize, f64, Vec<Measured>, (Duration, f64, usize));

/// One measured request: latencies of `iterations` calls and the capacity of one.
struct Measured {
    name: String,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    rcu: f64,
    /// The process's CPU time per call.
    cpu: Duration,
    note: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len() - 1);
    sorted[index]
}

async fn measure(
    t: &TestApp,
    token: &str,
    name: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    iterations: usize,
) -> Measured {
    let call = || t.call(method, path, Some(token), body.clone());
    for _ in 0..5 {
        call().await;
    }
    let before = t.app().store.meter().snapshot();
    let response = call().await;
    let used: Capacity = t.app().store.meter().snapshot() - before;
    if response.status != 200 {
        eprintln!("search-bench: {name} answered {}: {}", response.status, String::from_utf8_lossy(&response.body));
        std::process::exit(1);
    }
    let answer = response.json();
    if std::env::var("SEARCH_BENCH_DEBUG").is_ok() {
        let names: Vec<String> = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} {} {}", c["full_name"], c["city"], c["username"]))
            .collect();
        eprintln!("{name}: {names:?}");
    }
    let note = match (answer.get("total"), answer.get("total_exact")) {
        (Some(total), Some(exact)) => format!("total {total}{}", if exact == true { "" } else { " (not exact)" }),
        _ => String::new(),
    };
    let mut latencies = Vec::with_capacity(iterations);
    let cpu_before = process_cpu();
    for _ in 0..iterations {
        let started = Instant::now();
        call().await;
        latencies.push(started.elapsed());
    }
    let cpu = (process_cpu() - cpu_before) / iterations.max(1) as u32;
    latencies.sort();
    Measured {
        name: name.into(),
        p50: percentile(&latencies, 0.50),
        p95: percentile(&latencies, 0.95),
        p99: percentile(&latencies, 0.99),
        rcu: used.read,
        cpu,
        note,
    }
}

/// This process's CPU time (user and system, every thread): the handler runs in-process, and
/// DynamoDB Local is another process, so this is the function's own CPU.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// The one-word query as a Scan with a FilterExpression: what a service without an index does.
async fn scan_for(t: &TestApp, word: &str, city: &str) -> (Duration, f64, usize) {
    let store = &t.app().store;
    let started = Instant::now();
    let (mut rcu, mut found, mut start) = (0.0, 0usize, None);
    for page in 1.. {
        let out = store
            .client()
            .scan()
            .table_name(store.table())
            .filter_expression(
                "entity = :customer AND (begins_with(first_name, :w) OR begins_with(last_name, :w)) AND city = :city",
            )
            .expression_attribute_values(":customer", AttributeValue::S("customer".into()))
            .expression_attribute_values(":w", AttributeValue::S(word.into()))
            .expression_attribute_values(":city", AttributeValue::S(city.into()))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("scan");
        rcu += out.consumed_capacity().and_then(|c| c.capacity_units()).unwrap_or(0.0);
        found += out.items().len();
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
        if page % 100 == 0 {
            eprintln!("  scan: {page} pages, {rcu:.0} RCU, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    (started.elapsed(), rcu, found)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    // The functions' log lines and metrics would mix into the report on stdout.
    shared::logging::init_to(shared::logging::Output::Discard);
    let args = args();
    // The run outlasts a default access token (15 minutes): a day-long one for the benchmark.
    let t = TestApp::with_env(&[("ACCESS_TOKEN_TTL_SECONDS", "86400")]).await;
    let tokens = t.staff_tokens().await;
    let now = Timestamp::now().unix();
    let mut seeded = 0;
    let mut results: Vec<SizeResult> = Vec::new();
    let cities_path = "/v1/locations/cities?country=Zambia";
    let today = t.app().clock.now().date();
    let month_ago = today - time::Duration::days(30);
    let daily_path = format!(
        "/v1/stats/customers/daily?from={}&to={}",
        shared::store::stats::date_text(month_ago),
        shared::store::stats::date_text(today)
    );
    let probe = customer(PLANTED + 7, now);
    let fragment: String = probe.phone.as_ref().map(|p| p.as_str()[8..12].to_string()).unwrap_or_default();
    for size in &args.sizes {
        eprintln!("seeding to {size} customers");
        let seconds = seed(&t, seeded, *size, &args, now).await;
        seeded = *size;
        let suite: Vec<(&str, &str, String, Option<Value>)> = vec![
            (
                "1. one-word prefix + city",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"query": probe_word(), "city": "Lusaka"})),
            ),
            ("2a. two words", "POST", "/v1/customers/search".into(), Some(json!({"query": "mary ban"}))),
            ("2b. phone fragment (4 digits)", "POST", "/v1/customers/search".into(), Some(json!({"query": fragment}))),
            ("2c. planted surname", "POST", "/v1/customers/search".into(), Some(json!({"query": PLANTED_SURNAME}))),
            ("2d. planted tag", "POST", "/v1/customers/search".into(), Some(json!({"tags": [PLANTED_TAG]}))),
            (
                "3a. country + status, newest first",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"country": "Zambia", "status": "active"})),
            ),
            (
                "3b. city, sorted by last_name",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"city": "Kabwe", "sort_by": "last_name", "sort_order": "asc"})),
            ),
            (
                "3c. everyone, sorted by last_name",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"sort_by": "last_name"})),
            ),
            ("4. one letter (counting cap)", "POST", "/v1/customers/search".into(), Some(json!({"query": "m"}))),
            (
                "6a. the most common full name",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"query": "mary mulenga"})),
            ),
            (
                "6b. last_name + city",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"last_name": "Mulenga", "city": "Kitwe"})),
            ),
            (
                "6c. tag + status, by last login",
                "POST",
                "/v1/customers/search".into(),
                Some(
                    json!({"tags": ["late-payer"], "status": "suspended", "sort_by": "last_login_at", "sort_order": "desc"}),
                ),
            ),
            (
                "6d. logged in within 30 days + country",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"last_login_after": shared::store::stats::date_text(month_ago), "country": "Zambia"})),
            ),
            (
                "6e. country only, a page of 100",
                "POST",
                "/v1/customers/search".into(),
                Some(json!({"country": "Zambia", "limit": 100})),
            ),
            (
                "6f. one customer's full name",
                "POST",
                "/v1/customers/search".into(),
                Some(
                    json!({"query": format!("{} {}", probe.first_name, probe.last_name), "phone": probe.phone.as_ref().map(|p| p.as_str().to_string())}),
                ),
            ),
            ("5a. GET /v1/stats/customers", "GET", "/v1/stats/customers".into(), None),
            ("5b. GET /v1/stats/customers/daily (31 days)", "GET", daily_path.clone(), None),
            ("5c. GET /v1/locations/cities?country=Zambia", "GET", cities_path.into(), None),
        ];
        let mut measured = Vec::new();
        for (name, method, path, body) in suite {
            eprintln!("  {name}");
            let token = if path.starts_with("/v1/stats") { &tokens.admin } else { &tokens.staff };
            measured.push(measure(&t, token, name, method, &path, body, args.iterations).await);
        }
        for m in &measured {
            eprintln!(
                "  at {size}: {} p50 {} p95 {} p99 {} RCU {:.1} CPU {} {}",
                m.name,
                ms(m.p50),
                ms(m.p95),
                ms(m.p99),
                m.rcu,
                ms(m.cpu),
                m.note
            );
        }
        let word = probe_word();
        let capitalised: String =
            word.chars().next().map(|c| c.to_ascii_uppercase()).into_iter().chain(word.chars().skip(1)).collect();
        let scan = if *size <= args.checks_up_to {
            scan_for(&t, &capitalised, "Lusaka").await
        } else {
            eprintln!("  at {size}: the Scan comparison is not run (past --checks-up-to)");
            (Duration::ZERO, 0.0, 0)
        };
        eprintln!(
            "  at {size}: scan {} ms, {:.1} RCU, {} matches; seeded in {seconds:.0} s",
            ms(scan.0),
            scan.1,
            scan.2
        );
        results.push((*size, seconds, measured, scan));
    }
    println!(
        "### Search at {} customers\n",
        args.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" and ")
    );
    println!(
        "Through the handler in-process (`LocalApi`, the same code path as Lambda), {} calls each after 5 warm-up calls, one at a time; RCU of one call as DynamoDB Local reports it.\n",
        args.iterations
    );
    let sizes: Vec<String> = results.iter().map(|r| r.0.to_string()).collect();
    print!("| Request |");
    for s in &sizes {
        print!(" p50 / p95 / p99 ms at {s} | RCU at {s} | CPU ms at {s} |");
    }
    println!(" RCU ratio | Answer at the largest size |");
    print!("|---|");
    for _ in &sizes {
        print!("---:|---:|---:|");
    }
    println!("---:|---|");
    let rows = results.first().map_or(0, |r| r.2.len());
    for i in 0..rows {
        print!("| {} |", results[0].2[i].name);
        for r in &results {
            let m = &r.2[i];
            print!(" {} / {} / {} | {:.1} | {} |", ms(m.p50), ms(m.p95), ms(m.p99), m.rcu, ms(m.cpu));
        }
        let (first, last) = (&results[0].2[i], &results[results.len() - 1].2[i]);
        let ratio = if first.rcu > 0.0 { format!("{:.2}×", last.rcu / first.rcu) } else { "–".into() };
        println!(" {ratio} | {} |", last.note);
    }
    println!(
        "\nQuery 1 is `{}` (the first five letters of the surname of rank 150 of 3,000, Zipf-distributed) in Lusaka.",
        probe_word()
    );
    println!("\n### The same one-word query by Scan + FilterExpression\n");
    println!("| Customers | Scan time ms | Scan RCU | matches | index p50 ms | index RCU | time ratio | RCU ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (size, _, measured, (time, rcu, found)) in &results {
        if *size > args.checks_up_to {
            println!("| {size} | not run (past `--checks-up-to`) | | | | | | |");
            continue;
        }
        let index = &measured[0];
        println!(
            "| {size} | {} | {:.1} | {found} | {} | {:.1} | {:.0}× | {:.0}× |",
            ms(*time),
            rcu,
            ms(index.p50),
            index.rcu,
            time.as_secs_f64() / index.p50.as_secs_f64().max(1e-9),
            rcu / index.rcu.max(0.5)
        );
    }
    println!("\n### Seeding\n");
    println!(
        "Customers up to {} through `Store::create_customer` (one transaction each), the rest through the same creation plans in batches (see the binary's doc).\n",
        args.transactional
    );
    println!("| Customers | Seconds | Customers per second (concurrency {}) |", args.concurrency);
    println!("|---:|---:|---:|");
    let mut previous = 0;
    for (size, seconds, _, _) in &results {
        println!("| {previous} → {size} | {seconds:.0} | {:.0} |", (size - previous) as f64 / seconds);
        previous = *size;
    }
    write_costs(&t, &tokens, now).await;
    if seeded <= args.checks_up_to {
        index_check(&t).await;
    } else {
        println!("\nThe index check (`verify`, `reindex`, `verify`) is not run past `--checks-up-to` customers.");
    }
}

/// `search-index verify` after the load, then `reindex` and `verify` again: the index the
/// writes left must be the one a rebuild makes.
async fn index_check(t: &TestApp) {
    let store = &t.app().store;
    let started = Instant::now();
    let after_load = local_stack::reindex::verify(store).await.expect("verify");
    let verify_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rebuilt = local_stack::reindex::reindex(store, true).await.expect("reindex");
    let reindex_seconds = started.elapsed().as_secs_f64();
    let after_reindex = local_stack::reindex::verify(store).await.expect("verify");
    println!("\n### The index after the load and after a rebuild\n");
    println!("`search-index verify` after the load ({verify_seconds:.0} s):\n\n```text\n{after_load}```\n");
    println!(
        "`reindex` ({reindex_seconds:.0} s: {} customers, {} entries written, {} stale deleted, {} blocks written), then `verify`:\n\n```text\n{after_reindex}```",
        rebuilt.customers, rebuilt.entries_written, rebuilt.stale_deleted, rebuilt.blocks_written
    );
    eprintln!("  verify after load: {}; after reindex: {}", after_load.is_zero(), after_reindex.is_zero());
}

/// What one write costs, index and counters included, at the largest size.
async fn write_costs(t: &TestApp, tokens: &integration_tests::StaffTokens, now: i64) {
    let meter = || t.app().store.meter().snapshot();
    let mut rows = Vec::new();
    let before = meter();
    let created = t
        .call(
            "POST",
            "/v1/customers",
            Some(&tokens.staff),
            Some(json!({"name": "Write Probe", "phone": "+260955000111",
            "email": "write.probe@example.com", "city": "Lusaka", "country": "Zambia", "tags": ["vip", "premium"]})),
        )
        .await;
    rows.push(("create (staff, 2 tags, phone, email, city)", meter() - before));
    let id = created.json()["customer_id"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/customers/{id}");
    let probe = t.app().store.get_customer(&CustomerId::parse(&id).expect("id")).await.expect("read").expect("there");
    let plan = t.app().store.creation_plan(&probe, &test_audit()).expect("plan");
    let put_units: f64 =
        plan.actions.iter().filter_map(|a| a.put()).map(|p| (item_size(p.item()) as f64 / 1024.0).ceil()).sum();
    let updates = plan.actions.iter().filter(|a| a.update().is_some()).count() as f64;
    let computed = 2.0 * (put_units + updates);
    let before = meter();
    t.call("PATCH", &path, Some(&tokens.staff), Some(json!({"last_name": "Probed"}))).await;
    rows.push(("name change", meter() - before));
    let before = meter();
    t.call("PATCH", &path, Some(&tokens.staff), Some(json!({"city": "Ndola"}))).await;
    rows.push(("city change", meter() - before));
    let before = meter();
    t.call("PATCH", &path, Some(&tokens.staff), Some(json!({"notes": "called back"}))).await;
    rows.push(("notes change (no searchable field)", meter() - before));
    let customer_id = CustomerId::parse(&id).expect("id");
    let phone = shared::domain::CodeRecipient::Phone(
        shared::domain::PhoneE164::parse("+260955000111", phonenumber::country::Id::ZM).expect("phone"),
    );
    let proof = shared::store::customers::LoginProof::Code(&phone);
    let customer = t.app().store.get_customer(&customer_id).await.expect("read").expect("customer");
    let customer = t
        .app()
        .store
        .record_login(&customer, Timestamp::from_unix(now), proof)
        .await
        .expect("first login")
        .expect("active");
    let before = meter();
    t.app().store.record_login(&customer, Timestamp::from_unix(now + 60), proof).await.expect("login");
    rows.push(("login (phone already verified)", meter() - before));
    let before = meter();
    t.call("POST", &format!("{path}/activity"), Some(&tokens.staff), Some(json!({"type": "transaction"}))).await;
    rows.push(("activity", meter() - before));
    let before = meter();
    t.call("DELETE", &format!("{path}/hard"), Some(&tokens.admin), None).await;
    rows.push(("erase", meter() - before));
    println!("\n### Write costs with the index and counters\n");
    println!(
        "As DynamoDB Local reports them (it under-reports transactions: see \"DynamoDB Local's reports\" above). \
         Computed at AWS prices from the item sizes, the same create is {} transaction actions and {computed:.0} WCU \
         (2 WCU per KB of each put, 2 per counter update).\n",
        plan.actions.len()
    );
    println!("| Write | WCU | RCU |");
    println!("|---|---:|---:|");
    for (name, used) in rows {
        println!("| {name} | {:.1} | {:.1} |", used.write, used.read);
    }
}

/// An item's size as DynamoDB bills it: attribute names plus values.
fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        _ => 0,
    }
}
