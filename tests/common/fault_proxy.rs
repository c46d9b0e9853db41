//! A faulting HTTP proxy (hyper, on a free loopback port) in front of moto's
//! server: every request is forwarded unchanged unless a scripted rule matches it,
//! in which case the proxy answers 500/503 itself, holds the request longer than
//! the client's per-attempt timeout before forwarding it, or resets the connection
//! (RST, no response) after reading the request head. The S3 client under test
//! points at the proxy; tests inspect the bucket through moto directly.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Notify;

/// What the proxy does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an S3 error document (500 InternalError, 503 SlowDown).
    Status(u16),
    /// Wait this long, then forward (longer than the client's attempt timeout).
    Slow(Duration),
    /// Close the connection with a TCP reset instead of answering.
    Reset,
}

type Matcher = Box<dyn Fn(&Method, &str) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    fault: Fault,
    remaining: usize,
}

#[derive(Default)]
struct Script {
    rules: Vec<Rule>,
    /// `METHOD path -> fault` for every fault injected, in order.
    injected: Vec<(String, Fault)>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    script: Arc<Mutex<Script>>,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(Script::default()));
        let forward =
            Forward { upstream: upstream.to_string(), client: Client::builder(TokioExecutor::new()).build_http() };
        tokio::spawn(accept(listener, script.clone(), Arc::new(forward)));
        FaultProxy { endpoint, script }
    }

    /// Injects `fault` into the next `times` requests for which `matches(method, path)` holds.
    pub fn inject(&self, times: usize, fault: Fault, matches: impl Fn(&Method, &str) -> bool + Send + Sync + 'static) {
        self.script.lock().unwrap().rules.push(Rule { matches: Box::new(matches), fault, remaining: times });
    }

    /// Forwards everything from now on.
    pub fn heal(&self) {
        self.script.lock().unwrap().rules.clear();
    }

    /// Faults injected so far, as (`METHOD path`, fault).
    pub fn injected(&self) -> Vec<(String, Fault)> {
        self.script.lock().unwrap().injected.clone()
    }
}

fn take_fault(script: &Mutex<Script>, method: &Method, path: &str) -> Option<Fault> {
    let mut s = script.lock().unwrap();
    let rule = s.rules.iter_mut().find(|r| r.remaining > 0 && (r.matches)(method, path))?;
    rule.remaining -= 1;
    let fault = rule.fault;
    s.injected.push((format!("{method} {path}"), fault));
    Some(fault)
}

struct Forward {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

async fn accept(listener: tokio::net::TcpListener, script: Arc<Mutex<Script>>, forward: Arc<Forward>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        // Closing with a zero linger sends RST instead of FIN: a reset as the client sees it.
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
        let reset = Arc::new(Notify::new());
        let (script, forward, on_reset) = (script.clone(), forward.clone(), reset.clone());
        let service = hyper::service::service_fn(move |request| {
            handle(script.clone(), forward.clone(), on_reset.clone(), request)
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = reset.notified() => {}
            }
        });
    }
}

async fn handle(
    script: Arc<Mutex<Script>>,
    forward: Arc<Forward>,
    reset: Arc<Notify>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    match take_fault(&script, request.method(), &path) {
        None => {}
        Some(Fault::Status(code)) => return Ok(s3_error(code)),
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Reset) => {
            reset.notify_one();
            std::future::pending::<()>().await;
        }
    }
    Ok(forward.send(request).await)
}

impl Forward {
    async fn send(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (mut parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        parts.uri = format!("{}{target}", self.upstream).parse().unwrap();
        match self.client.request(Request::from_parts(parts, Full::new(body))).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                Response::from_parts(parts, Full::new(body))
            }
            Err(e) => {
                Response::builder().status(StatusCode::BAD_GATEWAY).body(Full::new(e.to_string().into())).unwrap()
            }
        }
    }
}

/// An S3 error answer as S3 gives it (`InternalError` for 500, `SlowDown` for 503).
fn s3_error(code: u16) -> Response<Full<Bytes>> {
    let kind = if code == 503 { "SlowDown" } else { "InternalError" };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{kind}</Code><Message>injected by the test proxy</Message></Error>"
    );
    Response::builder()
        .status(code)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(xml)))
        .unwrap()
}
