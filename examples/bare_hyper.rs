//! The floor `scripts/instructions.sh` measures the gateway against: a bare
//! hyper HTTP/1.1 server on tokio's multi-threaded runtime that answers
//! every request with the same bytes (a gateway answer saved to a file),
//! as `application/json`. Nothing else: no routing, ids, logging or
//! metrics.
//!
//!     bare_hyper ANSWER_FILE PORT

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let (Some(file), Some(port)) = (arguments.next(), arguments.next()) else {
        return Err("usage: bare_hyper ANSWER_FILE PORT".into());
    };
    let answer = Bytes::from(std::fs::read(file)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let answer = answer.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let answer = answer.clone();
            async move {
                // Read the body, as any server of requests must.
                let _ = request.into_body().collect().await;
                let mut response = Response::new(Full::new(answer));
                (response.headers_mut())
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Ok::<_, Infallible>(response)
            }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // A client's reset ends its connection, nothing more.
            let _ = connection.await;
        });
    }
}
