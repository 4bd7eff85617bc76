//! The bare baseline: a tokio + hyper 1 server that answers every request with the same
//! `302 Found` and an empty body, on a multi-threaded runtime like hop's. It does no routing,
//! no lookup and no logging, so its throughput is the ceiling that hop's redirect is compared
//! with under the same `wrk` command.
//!
//!   hop-bench-baseline [ADDR]     ADDR from argv, else BASELINE_LISTEN, else 127.0.0.1:18090
//!
//! It stops on SIGINT or SIGTERM.

use std::{convert::Infallible, net::SocketAddr};

use http_body_util::Empty;
use hyper::{
    body::{Bytes, Incoming},
    header::{HeaderValue, LOCATION},
    server::conn::http1,
    service::service_fn,
    Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, signal::unix::SignalKind};

const DEFAULT_LISTEN: &str = "127.0.0.1:18090";
const TARGET: &str = "https://example.com/a/b/1";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BASELINE_LISTEN").ok())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned())
        .parse()?;
    let listener = TcpListener::bind(addr).await?;
    println!("baseline listening on {}", listener.local_addr()?);

    let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => serve(accepted?.0),
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    Ok(())
}

/// Serves one keep-alive connection on its own task.
fn serve(stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    tokio::spawn(async move {
        let service = service_fn(redirect);
        // A client that hangs up mid-request is not the baseline's concern.
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

async fn redirect(_: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::FOUND;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(TARGET));
    Ok(response)
}
