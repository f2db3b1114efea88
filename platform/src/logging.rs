//! JSON logs through `tracing`. Lambda adds the request id to every line through the span that
//! `lambda_runtime` opens per invocation; we never log codes, tokens, passwords or full contacts.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::EnvFilter;

/// Where log lines and metric lines go: standard output, or a buffer a test reads.
#[derive(Clone)]
pub enum Output {
    Stdout,
    Buffer(Arc<Mutex<Vec<u8>>>),
    /// Nowhere: the benchmark tools, whose standard output is their report.
    Discard,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

fn output() -> &'static Output {
    OUTPUT.get_or_init(|| Output::Stdout)
}

/// JSON lines on standard output, at `RUST_LOG` (default `info`).
pub fn init() {
    init_to(Output::Stdout);
}

/// JSON lines to `output` (the first call wins, for the process).
pub fn init_to(output: Output) {
    let _ = OUTPUT.set(output);
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(|| LineWriter(self::output().clone()))
        .try_init();
}

/// Writes one line as it is (an EMF metric document).
pub fn write_line(line: &str) {
    let mut writer = LineWriter(output().clone());
    let _ = writer.write_all(format!("{line}\n").as_bytes());
}

struct LineWriter(Output);

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Output::Stdout => std::io::stdout().lock().write_all(bytes).map(|()| bytes.len()),
            Output::Buffer(buffer) => {
                buffer.lock().map_err(|_| std::io::Error::other("log buffer poisoned"))?.extend_from_slice(bytes);
                Ok(bytes.len())
            }
            Output::Discard => Ok(bytes.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &self.0 {
            Output::Stdout => std::io::stdout().flush(),
            Output::Buffer(_) | Output::Discard => Ok(()),
        }
    }
}

/// `+260971234567` → `+2609*****567`: enough to correlate, not enough to identify.
pub fn mask_phone(e164: &str) -> String {
    let chars: Vec<char> = e164.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// `jane.doe@example.com` → `j*******@example.com`: the domain, for correlation; never the name.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}{}@{domain}", "*".repeat(local.chars().count().saturating_sub(1).max(1)))
        }
        None => "*".repeat(email.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_middle_of_a_phone_number() {
        assert_eq!(mask_phone("+260971234567"), "+2609*****567");
        assert_eq!(mask_phone("+1234"), "*****");
    }

    #[test]
    fn masks_the_name_of_an_email_address() {
        assert_eq!(mask_email("jane.doe@example.com"), "j*******@example.com");
        assert_eq!(mask_email("j@example.com"), "j*@example.com");
        assert_eq!(mask_email("nonsense"), "********");
    }
}
