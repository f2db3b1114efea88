//! Hand-rolled command-line parsing (no clap: keeps the bench cheap to build).

use std::path::{Path, PathBuf};
use std::time::Duration;

pub const USAGE: &str = "\
usage:
  bench cold-start [--runs N] [--warmup N] [--timeout-secs S] [--logs DIR]
                   [--max-ratio R | --max-gap-ms G] --hello PATH [--bin NAME=PATH]...
  bench memory     [--requests N] [--timeout-secs S] [--logs DIR]
                   --bin NAME=PATH:EVENT_JSON [--bin ...]

cold-start  time from spawn to the first GET /runtime/invocation/next, per binary,
            interleaved (hello, a, b, hello, a, b, ...); bar: median <= R x hello,
            or median <= hello's + G ms (--max-ratio none: no bar, only the figures)
memory      serve N invocations of EVENT_JSON one after another, then read VmHWM;
            bar: peak RSS <= 64 MiB

defaults: --runs 30, --warmup 1, --requests 1000, --max-ratio 1.5,
          --timeout-secs 10 (per spawn, cold-start) / 300 (whole run, memory),
          --logs $CARGO_TARGET_DIR/bench-logs or target/bench-logs
Children inherit this process's environment plus the AWS_LAMBDA_* variables
that the real Lambda environment sets.";

#[derive(Debug, Clone)]
pub struct BinSpec {
    pub name: String,
    pub path: PathBuf,
    /// Event file (memory mode only).
    pub event: Option<PathBuf>,
}

#[derive(Debug)]
pub enum Command {
    ColdStart(ColdStartArgs),
    Memory(MemoryArgs),
}

#[derive(Debug)]
pub struct ColdStartArgs {
    pub runs: usize,
    pub warmup: usize,
    pub timeout: Duration,
    pub logs: PathBuf,
    /// The bar a binary's median init is held to against hello's.
    pub bar: Bar,
    pub hello: BinSpec,
    pub bins: Vec<BinSpec>,
}

/// What a binary's median cold start is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bar {
    /// At most this × hello's median.
    Ratio(f64),
    /// At most hello's median + this many milliseconds (ARCHITECTURE.md's bar: the gap is a
    /// constant, which a ratio hides as the machine's load moves hello).
    GapMs(f64),
    /// Only the figures.
    None,
}

impl Bar {
    pub fn holds(self, median_ms: f64, hello_ms: f64) -> Option<bool> {
        match self {
            Bar::Ratio(r) => Some(median_ms <= r * hello_ms),
            Bar::GapMs(g) => Some(median_ms - hello_ms <= g),
            Bar::None => None,
        }
    }

    pub fn describe(self) -> Option<String> {
        match self {
            Bar::Ratio(r) => Some(format!("≤ {r}× hello")),
            Bar::GapMs(g) => Some(format!("≤ hello + {g} ms")),
            Bar::None => None,
        }
    }
}

#[derive(Debug)]
pub struct MemoryArgs {
    pub requests: usize,
    pub timeout: Duration,
    pub logs: PathBuf,
    pub bins: Vec<BinSpec>,
}

/// Returns `Err(message)` for usage errors; `Err(USAGE)` for `--help`.
pub fn parse(argv: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut it = argv.into_iter();
    let sub = it.next().ok_or("missing subcommand")?;
    if sub == "-h" || sub == "--help" || sub == "help" {
        return Err(USAGE.to_owned());
    }

    let mut runs = 30usize;
    let mut warmup = 1usize;
    let mut requests = 1000usize;
    let mut timeout_secs: Option<u64> = None;
    let mut bar = Bar::Ratio(1.5);
    let mut logs: Option<PathBuf> = None;
    let mut hello: Option<String> = None;
    let mut bins: Vec<String> = Vec::new();

    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(USAGE.to_owned());
        }
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--runs" => runs = number(&flag, &value()?)?,
            "--warmup" => warmup = number(&flag, &value()?)?,
            "--requests" => requests = number(&flag, &value()?)?,
            "--timeout-secs" => timeout_secs = Some(number(&flag, &value()?)? as u64),
            "--logs" => logs = Some(PathBuf::from(value()?)),
            "--max-ratio" => bar = ratio(&flag, &value()?)?,
            "--max-gap-ms" => bar = gap(&flag, &value()?)?,
            "--hello" => hello = Some(value()?),
            "--bin" => bins.push(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }

    let logs = logs.unwrap_or_else(default_log_dir);
    match sub.as_str() {
        "cold-start" => {
            if runs == 0 {
                return Err("--runs must be at least 1".into());
            }
            let hello = hello.ok_or("cold-start needs --hello PATH")?;
            let hello = bin_spec(&format!("hello={hello}"), false)?;
            let bins = bins.iter().map(|b| bin_spec(b, false)).collect::<Result<Vec<_>, _>>()?;
            let all = std::iter::once(&hello).chain(&bins);
            unique_names(all)?;
            Ok(Command::ColdStart(ColdStartArgs {
                runs,
                warmup,
                timeout: Duration::from_secs(timeout_secs.unwrap_or(10)),
                logs,
                bar,
                hello,
                bins,
            }))
        }
        "memory" => {
            if requests == 0 {
                return Err("--requests must be at least 1".into());
            }
            if hello.is_some() {
                return Err("memory takes no --hello; pass it as --bin hello=PATH:EVENT".into());
            }
            if bins.is_empty() {
                return Err("memory needs at least one --bin NAME=PATH:EVENT".into());
            }
            let bins = bins.iter().map(|b| bin_spec(b, true)).collect::<Result<Vec<_>, _>>()?;
            unique_names(bins.iter())?;
            Ok(Command::Memory(MemoryArgs {
                requests,
                timeout: Duration::from_secs(timeout_secs.unwrap_or(300)),
                logs,
                bins,
            }))
        }
        other => Err(format!("unknown subcommand `{other}`")),
    }
}

/// `none`: no bar, the run only measures.
fn ratio(flag: &str, v: &str) -> Result<Bar, String> {
    if v == "none" {
        return Ok(Bar::None);
    }
    match v.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 1.0 => Ok(Bar::Ratio(r)),
        _ => Err(format!("{flag}: `{v}` is not a ratio of at least 1")),
    }
}

fn gap(flag: &str, v: &str) -> Result<Bar, String> {
    match v.parse::<f64>() {
        Ok(g) if g.is_finite() && g >= 0.0 => Ok(Bar::GapMs(g)),
        _ => Err(format!("{flag}: `{v}` is not a non-negative number of milliseconds")),
    }
}

fn number(flag: &str, v: &str) -> Result<usize, String> {
    v.parse().map_err(|_| format!("{flag}: `{v}` is not a non-negative integer"))
}

/// `NAME=PATH` or `PATH` (name = file name); with `with_event`, `...:EVENT`.
fn bin_spec(raw: &str, with_event: bool) -> Result<BinSpec, String> {
    let (name, rest) = match raw.split_once('=') {
        Some((n, r)) => (Some(n.to_owned()), r),
        None => (None, raw),
    };
    let (path, event) = if with_event {
        let (p, e) = rest.rsplit_once(':').ok_or_else(|| format!("--bin `{raw}`: expected NAME=PATH:EVENT_JSON"))?;
        (p, Some(PathBuf::from(e)))
    } else {
        (rest, None)
    };
    if path.is_empty() || event.as_ref().is_some_and(|e| e.as_os_str().is_empty()) {
        return Err(format!("--bin `{raw}`: empty path"));
    }
    let path = PathBuf::from(path);
    let name = match name {
        Some(n) if !n.is_empty() => n,
        _ => file_name(&path),
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!("--bin `{raw}`: name must be [A-Za-z0-9._-]"));
    }
    Ok(BinSpec { name, path, event })
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "bin".into())
}

fn unique_names<'a>(specs: impl Iterator<Item = &'a BinSpec>) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for s in specs {
        if !seen.insert(s.name.as_str()) {
            return Err(format!("duplicate binary name `{}`", s.name));
        }
    }
    Ok(())
}

fn default_log_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("bench-logs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn cold_start() {
        let Command::ColdStart(a) =
            parse(argv("cold-start --runs 5 --hello t/hello --bin auth=t/auth --bin=t/profile")).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.runs, 5);
        assert_eq!(a.bar, Bar::Ratio(1.5));
        assert_eq!(a.hello.name, "hello");
        assert_eq!(a.bins[0].name, "auth");
        assert_eq!(a.bins[1].name, "profile");
        assert_eq!(a.bins[1].path, PathBuf::from("t/profile"));
    }

    #[test]
    fn memory() {
        let Command::Memory(a) = parse(argv("memory --requests=10 --bin auth=t/auth:events/a.json")).unwrap() else {
            panic!()
        };
        assert_eq!(a.requests, 10);
        assert_eq!(a.bins[0].path, PathBuf::from("t/auth"));
        assert_eq!(a.bins[0].event, Some(PathBuf::from("events/a.json")));
    }

    #[test]
    fn errors() {
        assert!(parse(argv("cold-start --bin a=b")).is_err());
        assert!(parse(argv("memory --bin a=b")).is_err());
        assert!(parse(argv("cold-start --hello h --bin hello=x")).is_err());
        assert!(parse(argv("cold-start --hello h --runs x")).is_err());
        assert!(parse(argv("frobnicate")).is_err());
        assert!(parse(argv("cold-start --hello h --max-ratio 0.5")).is_err());
        let Command::ColdStart(a) = parse(argv("cold-start --hello h --max-ratio=1.25")).unwrap() else { panic!() };
        assert_eq!(a.bar, Bar::Ratio(1.25));
        let Command::ColdStart(a) = parse(argv("cold-start --hello h --max-ratio none")).unwrap() else { panic!() };
        assert_eq!(a.bar, Bar::None);
        let Command::ColdStart(a) = parse(argv("cold-start --hello h --max-gap-ms 0.35")).unwrap() else { panic!() };
        assert_eq!(a.bar, Bar::GapMs(0.35));
        assert!(parse(argv("cold-start --hello h --max-gap-ms -1")).is_err());
    }

    #[test]
    fn a_gap_bar_compares_the_difference_not_the_ratio() {
        let bar = Bar::GapMs(0.35);
        assert_eq!(bar.holds(1.60, 1.30), Some(true));
        assert_eq!(bar.holds(1.70, 1.30), Some(false));
        assert_eq!(Bar::Ratio(1.25).holds(1.60, 1.30), Some(true));
        assert_eq!(Bar::None.holds(9.0, 1.0), None);
    }
}
