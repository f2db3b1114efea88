//! A minimal in-process fake of the Lambda Runtime API
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>).
//!
//! One [`FakeApi`] is started per child process, on its own ephemeral port, so
//! every request it sees belongs to exactly one spawn and no tagging is needed.
//! Dropping it aborts the accept loop and every connection task.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

const PREFIX: &str = "/2018-06-01/runtime/";

pub enum Mode {
    /// Record the arrival of the first `next` and then hold every `next`
    /// forever (the process is killed before it could be answered).
    ColdStart,
    /// Serve `invocations` copies of `event`, one after another; hold the
    /// `next` after the last one.
    Load { event: Bytes, invocations: usize, function_arn: String },
}

/// Sent to the driver as things happen.
#[derive(Debug)]
pub enum Signal {
    /// First `GET .../invocation/next`; `Instant` taken when the request head
    /// reached the handler.
    FirstNext(Instant),
    /// `POST .../init/error` with its body.
    InitError(String),
    /// The last of the `invocations` got a response or error.
    AllDone,
}

#[derive(Debug, Default)]
pub struct LoadStats {
    pub issued: usize,
    /// `/response` + `/error` posts.
    pub completed: usize,
    pub error_posts: usize,
    pub status_5xx: usize,
    pub first_error: Option<String>,
    pub first_5xx: Option<String>,
    pub first_next: Option<Instant>,
    pub last_done: Option<Instant>,
    /// Per invocation: `next` answered -> response posted.
    pub latencies: Vec<Duration>,
    in_flight: Option<(String, Instant)>,
}

struct State {
    mode: Mode,
    seen_next: AtomicBool,
    seq_base: u64,
    stats: Mutex<LoadStats>,
    tx: mpsc::UnboundedSender<Signal>,
}

pub struct FakeApi {
    pub addr: SocketAddr,
    pub signals: mpsc::UnboundedReceiver<Signal>,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FakeApi {
    pub async fn start(mode: Mode) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, signals) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            mode,
            seen_next: AtomicBool::new(false),
            seq_base: u64::from(addr.port()) << 32,
            stats: Mutex::new(LoadStats::default()),
            tx,
        });
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(Self { addr, signals, state, task })
    }

    pub fn take_stats(&self) -> LoadStats {
        std::mem::take(&mut *self.state.stats.lock().unwrap())
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts the
        // connection tasks (including `next` requests parked forever).
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        while conns.try_join_next().is_some() {}
        let state = state.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

type Resp = Response<Full<Bytes>>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    // Taken first thing, before any parsing of our own: this is "the moment the
    // binary made its first next request" as seen by the Runtime API.
    let arrived = Instant::now();
    let Some(rest) = req.uri().path().strip_prefix(PREFIX).map(str::to_owned) else {
        return Ok(status(StatusCode::NOT_FOUND, "unknown path"));
    };
    let method = req.method().clone();
    let resp = match (method, rest.as_str()) {
        (Method::GET, "invocation/next") => next(&state, arrived).await,
        (Method::POST, "init/error") => {
            let body = body_text(req).await;
            let _ = state.tx.send(Signal::InitError(body));
            status(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (Method::POST, r) => match r.strip_prefix("invocation/") {
            Some(r) => {
                if let Some(id) = r.strip_suffix("/response") {
                    let id = id.to_owned();
                    let body = body_bytes(req).await;
                    completed(&state, &id, body, false)
                } else if let Some(id) = r.strip_suffix("/error") {
                    let id = id.to_owned();
                    let body = body_bytes(req).await;
                    completed(&state, &id, body, true)
                } else {
                    status(StatusCode::NOT_FOUND, "unknown path")
                }
            }
            None => status(StatusCode::NOT_FOUND, "unknown path"),
        },
        _ => status(StatusCode::NOT_FOUND, "unknown path"),
    };
    Ok(resp)
}

async fn next(state: &State, arrived: Instant) -> Resp {
    if !state.seen_next.swap(true, Ordering::SeqCst) {
        let _ = state.tx.send(Signal::FirstNext(arrived));
    }
    let Mode::Load { event, invocations, function_arn } = &state.mode else {
        return std::future::pending().await;
    };

    let next = {
        let mut st = state.stats.lock().unwrap();
        st.first_next.get_or_insert(arrived);
        (st.issued < *invocations).then(|| {
            st.issued += 1;
            let seq = state.seq_base | st.issued as u64;
            let id = request_id(seq);
            st.in_flight = Some((id.clone(), Instant::now()));
            (seq, id)
        })
    };
    let Some((seq, id)) = next else {
        // All invocations served: park the runtime until the driver kills it.
        return std::future::pending().await;
    };

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let deadline_ms = (now + Duration::from_secs(30)).as_millis();
    let trace = format!("Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0", now.as_secs(), seq, seq);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", function_arn.as_str())
        .header("lambda-runtime-trace-id", trace)
        .body(Full::new(event.clone()))
        .expect("valid response")
}

fn completed(state: &State, id: &str, body: Bytes, is_error: bool) -> Resp {
    let now = Instant::now();
    let mut st = state.stats.lock().unwrap();
    match st.in_flight.take() {
        Some((expected, served)) if expected == id => st.latencies.push(now - served),
        other => {
            // Unknown or stale id: the real API answers 400; keep state intact.
            st.in_flight = other;
            return status(StatusCode::BAD_REQUEST, "unknown request id");
        }
    }
    st.completed += 1;
    if is_error {
        st.error_posts += 1;
        if st.first_error.is_none() {
            st.first_error = Some(snippet(&body));
        }
    } else {
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64));
        if code.is_some_and(|c| c >= 500) {
            st.status_5xx += 1;
            if st.first_5xx.is_none() {
                st.first_5xx = Some(snippet(&body));
            }
        }
    }
    if let Mode::Load { invocations, .. } = state.mode
        && st.completed == invocations
    {
        st.last_done = Some(now);
        let _ = state.tx.send(Signal::AllDone);
    }
    status(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

fn request_id(seq: u64) -> String {
    format!("{:08x}-{:04x}-4000-8000-{:012x}", (seq >> 32) as u32, (seq >> 16) as u16, seq & 0xffff_ffff_ffff)
}

fn status(code: StatusCode, body: &'static str) -> Resp {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("valid response")
}

async fn body_bytes(req: Request<Incoming>) -> Bytes {
    match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

async fn body_text(req: Request<Incoming>) -> String {
    snippet(&body_bytes(req).await)
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
