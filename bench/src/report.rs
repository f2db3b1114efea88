//! Statistics and Markdown helpers.

use std::path::Path;

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub mean: f64,
}

/// Median is the mean of the two middle samples for even `n`; p90 is the
/// nearest-rank percentile (smallest sample with at least 90% at or below it).
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    Some(Summary { n, min: s[0], median, p90: percentile(&s, 0.90), mean: s.iter().sum::<f64>() / n as f64 })
}

/// Nearest-rank percentile of an already sorted slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub const MIB: f64 = 1024.0 * 1024.0;

pub fn file_size(path: &Path) -> std::io::Result<u64> {
    Ok(std::fs::metadata(path)?.len())
}

/// Markdown bullet list describing the machine.
pub fn machine_facts() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let value = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    let model = value("model name")
        .or_else(|| value("Model"))
        .or_else(|| value("Hardware"))
        .unwrap_or_else(|| "unknown".into());
    let cpus = cpuinfo.lines().filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor")).count();
    let usable = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:")?.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(|| "unknown".into(), |kib| format!("{:.1} GiB", kib as f64 / MIB));
    format!(
        "- CPU: {model}\n- Cores: {cpus} logical in /proc/cpuinfo, {usable} available to this process\n\
         - Memory: {mem}\n- Kernel: Linux {kernel} ({arch})\n",
        arch = std::env::consts::ARCH,
    )
}

pub fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(s.min, 1.0);
        assert_eq!(s.median, 5.5);
        assert_eq!(s.p90, 9.0);
        assert_eq!(s.mean, 5.5);
        let s = summarize(&[2.0]).unwrap();
        assert_eq!((s.median, s.p90), (2.0, 2.0));
        assert!(summarize(&[]).is_none());
    }
}
