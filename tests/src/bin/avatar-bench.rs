//! `avatar-bench`: what the media processor's avatar rendering costs for a phone photo. Builds
//! a ~5 MB, 4000 × 3000 JPEG with an EXIF block (`integration_tests::photo`), then runs
//! `media_processor::render_avatar` on it in fresh child processes and reports its wall time and
//! the child's peak RSS (`VmHWM`), median of `--runs`. A decode-only run shows how much of the
//! peak the decoded pixels are. Markdown on stdout, progress on stderr.
//!
//! ```text
//! avatar-bench [--runs 7] [--width 4000] [--height 3000] [--max-bytes 5242880] [--orientation 1]
//! avatar-bench child render|decode FILE      (internal: one measurement, one line on stdout)
//! ```
//!
//! Each measurement is a fresh process, so nothing the parent did (building and encoding the
//! photo) inflates the peak; the child reads the file, notes its RSS, renders, and reads its
//! `VmHWM`. Lambda's memory setting also sets the CPU share, which a local run cannot reproduce:
//! the times are this machine's, at whatever CPU it gives one thread.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use shared::domain::media::MediaType;

/// Lambda's smallest memory setting, in MB (MiB of RAM).
const LAMBDA_MIN_MB: f64 = 128.0;
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["child", mode, file] => child(mode, Path::new(file)),
        ["-h" | "--help"] => {
            println!("usage: avatar-bench [--runs N] [--width W] [--height H] [--max-bytes B] [--orientation O]")
        }
        rest => parent(&options(rest)),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("avatar-bench: {message}");
    std::process::exit(2)
}

struct Options {
    runs: usize,
    width: u32,
    height: u32,
    max_bytes: usize,
    /// The EXIF orientation the photo carries (6 makes the processor turn it: one more copy).
    orientation: u16,
}

fn options(args: &[&str]) -> Options {
    let mut options = Options { runs: 7, width: 4000, height: 3000, max_bytes: 5 * 1024 * 1024, orientation: 1 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| fail(&format!("{flag} needs a value")));
        let number = || value.parse::<usize>().unwrap_or_else(|_| fail(&format!("{flag}: `{value}` is not a number")));
        match *flag {
            "--runs" => options.runs = number().max(1),
            "--width" => options.width = number() as u32,
            "--height" => options.height = number() as u32,
            "--max-bytes" => options.max_bytes = number(),
            "--orientation" => options.orientation = number() as u16,
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    options
}

// ---------------------------------------------------------------------------------------------
// Child: one measurement
// ---------------------------------------------------------------------------------------------

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn child(mode: &str, file: &Path) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
    let (rss_before, _) = memory_kib();
    let started = Instant::now();
    let outputs = match mode {
        "render" => {
            let rendered =
                media_processor::render_avatar(&bytes, MediaType::Jpeg).unwrap_or_else(|e| fail(&e.message()));
            (rendered.image.len(), rendered.thumb.len())
        }
        "decode" => {
            let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .unwrap_or_else(|e| fail(&e.to_string()));
            (image.as_bytes().len(), 0)
        }
        other => fail(&format!("unknown child mode `{other}`")),
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let (_, hwm) = memory_kib();
    println!("{ms} {rss_before} {hwm} {} {}", outputs.0, outputs.1);
}

// ---------------------------------------------------------------------------------------------
// Parent: the photo, the runs, the report
// ---------------------------------------------------------------------------------------------

/// One child's line.
struct Sample {
    ms: f64,
    rss_before_kib: f64,
    hwm_kib: f64,
    output_bytes: usize,
    thumb_bytes: usize,
}

fn run_child(mode: &str, file: &Path) -> Sample {
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("own path: {e}")));
    let out = Command::new(exe)
        .args(["child", mode])
        .arg(file)
        .output()
        .unwrap_or_else(|e| fail(&format!("spawning the child: {e}")));
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        fail(&format!("child {mode} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    let fields: Vec<f64> = text.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    match fields.as_slice() {
        [ms, rss, hwm, output, thumb] => Sample {
            ms: *ms,
            rss_before_kib: *rss,
            hwm_kib: *hwm,
            output_bytes: *output as usize,
            thumb_bytes: *thumb as usize,
        },
        _ => fail(&format!("child {mode} printed `{}`", text.trim())),
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The processor's memory setting: `MediaProcessorMemorySize`'s default in template.yaml.
fn template_memory_mb() -> Option<f64> {
    let text = std::fs::read_to_string(integration_tests::repo_root().join("template.yaml")).ok()?;
    let yaml: serde_norway::Value = serde_norway::from_str(&text).ok()?;
    yaml["Parameters"]["MediaProcessorMemorySize"]["Default"].as_f64()
}

struct Summary {
    runs: usize,
    ms: f64,
    ms_range: (f64, f64),
    rss_before_mib: f64,
    peak_mib: f64,
    peak_range: (f64, f64),
}

fn summarize(samples: &[Sample]) -> Summary {
    let mib = |kib: f64| kib / 1024.0;
    Summary {
        runs: samples.len(),
        ms: median(samples.iter().map(|s| s.ms)),
        ms_range: min_max(samples.iter().map(|s| s.ms)),
        rss_before_mib: median(samples.iter().map(|s| mib(s.rss_before_kib))),
        peak_mib: median(samples.iter().map(|s| mib(s.hwm_kib))),
        peak_range: min_max(samples.iter().map(|s| mib(s.hwm_kib))),
    }
}

fn parent(options: &Options) {
    eprintln!(
        "avatar-bench: building a {}×{} photo of at most {} bytes, EXIF orientation {}",
        options.width, options.height, options.max_bytes, options.orientation
    );
    let photo = integration_tests::photo::phone_photo_oriented(
        options.width,
        options.height,
        options.max_bytes,
        options.orientation,
    );
    let file: PathBuf = std::env::temp_dir().join(format!("avatar-bench-{}.jpg", std::process::id()));
    std::fs::write(&file, &photo.jpeg).unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
    let mut render = Vec::new();
    let mut decode = Vec::new();
    // One discarded round first: the file and the binary into the page cache.
    run_child("render", &file);
    for round in 0..options.runs {
        eprint!("\ravatar-bench: round {}/{} ", round + 1, options.runs);
        render.push(run_child("render", &file));
        decode.push(run_child("decode", &file));
    }
    eprintln!();
    let _ = std::fs::remove_file(&file);
    report(options, &photo, &render, &decode);
}

fn verdict(peak_mib: f64, limit_mb: f64) -> String {
    if peak_mib <= limit_mb {
        format!("fits ({:.0} % of {limit_mb:.0} MB)", 100.0 * peak_mib / limit_mb)
    } else {
        format!("**does not fit** ({:.0} % of {limit_mb:.0} MB)", 100.0 * peak_mib / limit_mb)
    }
}

fn report(options: &Options, photo: &integration_tests::photo::Photo, render: &[Sample], decode: &[Sample]) {
    let r = summarize(render);
    let d = summarize(decode);
    let pixels = f64::from(photo.width) * f64::from(photo.height);
    let rgb_mib = pixels * 3.0 / MIB;
    let input_mib = photo.jpeg.len() as f64 / MIB;
    let output = render.first().map_or(0, |s| s.output_bytes);
    let thumb = render.first().map_or(0, |s| s.thumb_bytes);
    let configured = template_memory_mb();

    println!("### Media processor: one phone-photo avatar through `render_avatar`\n");
    println!(
        "- Input: a {}×{} JPEG of {} bytes ({input_mib:.2} MiB; quality {}, noisy photo-like content, \
         a {}-byte EXIF block with make, model, orientation {} and GPS), generated by \
         `integration_tests::photo::phone_photo_oriented` under the avatar limit of {} bytes",
        photo.width,
        photo.height,
        photo.jpeg.len(),
        photo.quality,
        photo.exif_bytes,
        options.orientation,
        options.max_bytes
    );
    println!(
        "- Output: the re-encoded JPEG (quality 85, no metadata) {output} bytes and the 256 px \
         thumbnail {thumb} bytes"
    );
    println!(
        "- Method: {} runs, each in a fresh child process (`avatar-bench child`, +1 warm-up \
         discarded): read the file, note `VmRSS`, call the function, read `VmHWM`; medians, \
         min–max in brackets. The decode-only row is `image::load_from_memory_with_format` on \
         the same bytes.",
        r.runs
    );
    println!(
        "- Not measured: Lambda gives a function CPU in proportion to its memory (a full vCPU \
         at 1,769 MB); this machine runs the child on one unthrottled core, so the times are \
         not those of a 128 MB or a {} MB function.\n",
        configured.map_or("?".to_string(), |m| format!("{m:.0}"))
    );
    println!(
        "| Work | Runs | Time, median (min–max) ms | RSS before (MiB) | Peak RSS `VmHWM`, median (min–max) MiB | Peak − before (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, s) in [("`render_avatar` (decode, thumbnail, two encodes)", &r), ("decode only", &d)] {
        println!(
            "| {name} | {} | {:.0} ({:.0}–{:.0}) | {:.1} | {:.1} ({:.1}–{:.1}) | {:.1} |",
            s.runs,
            s.ms,
            s.ms_range.0,
            s.ms_range.1,
            s.rss_before_mib,
            s.peak_mib,
            s.peak_range.0,
            s.peak_range.1,
            s.peak_mib - s.rss_before_mib
        );
    }
    println!();
    println!(
        "Peak RSS against Lambda's memory: at 128 MB {}; at `MediaProcessorMemorySize` {}. (The \
         child is this benchmark's binary, not the processor's: its own baseline is in \"RSS \
         before\", which includes the {input_mib:.1} MiB of input it read.)",
        verdict(r.peak_mib, LAMBDA_MIN_MB),
        configured.map_or_else(|| "(not found in template.yaml)".to_string(), |mb| verdict(r.peak_mib, mb))
    );
    println!();
    println!(
        "What the peak is made of: the decoded RGB buffer is {}×{}×3 bytes = {rgb_mib:.1} MiB \
         (decode only: {:.1} MiB over the baseline); `render_avatar` encodes the JPEG from \
         that buffer itself (an RGB8 image needs no copy), so the rest of the peak is the input \
         ({input_mib:.1} MiB), the encoded output ({:.1} MiB) and the thumbnail.",
        photo.width,
        photo.height,
        d.peak_mib - d.rss_before_mib,
        output as f64 / MIB
    );
}
