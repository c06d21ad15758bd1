//! The accept loop: hyper's connection builder driven by hand, because
//! `axum::serve` sets none of the limits a shared gateway needs. Headers
//! must arrive within `server.header_read_timeout`; a connection with no
//! bytes moving for `server.idle_timeout` is closed; at most
//! `server.max_connections` are open at once. On shutdown every connection
//! is told to finish its request in flight and close.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::Service;

use super::Front;
use crate::settings::ServerSettings;

/// Bound listeners and what they serve.
pub struct Listeners {
    /// The main address: GraphQL, GraphiQL, health.
    pub main: (TcpListener, Front),
    /// `server.admin_listen`, when set.
    pub admin: Option<(TcpListener, Router)>,
}

/// Serves `listeners` until `stop` completes, then waits for open
/// connections to finish what they are doing. The caller bounds this wait
/// by dropping the future, which ends every connection still open (a
/// write goes on: it runs detached from its connection).
pub async fn serve(listeners: Listeners, server: &ServerSettings, stop: impl Future<Output = ()>) {
    let limits = Limits::from(server);
    let graceful = GracefulShutdown::new();
    let admin_graceful = GracefulShutdown::new();
    let ended = CancellationToken::new();
    let _end_connections_when_dropped = ended.clone().drop_guard();
    let slots = Arc::new(Semaphore::new(server.max_connections));
    let admin_slots = Arc::new(Semaphore::new(64));
    let Listeners { main, admin } = listeners;
    let admin_accepts = || async {
        match &admin {
            Some(admin) => accept(admin, &limits, &admin_slots, &admin_graceful, &ended).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = accept(&main, &limits, &slots, &graceful, &ended) => {}
        () = admin_accepts() => {}
        () = stop => {}
    }
    // The main listening socket closes now: a new connection is refused
    // at once (a load balancer tries another replica) instead of waiting
    // in the kernel's backlog through the grace and then being reset. The
    // admin address goes on answering while requests drain, so `/readyz`
    // says `draining` (503) to whoever probes it.
    drop(main);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = admin_accepts() => {}
    }
    drop(admin);
    admin_graceful.shutdown().await;
}

#[derive(Clone, Copy)]
struct Limits {
    header_read: Duration,
    idle: Duration,
}

impl From<&ServerSettings> for Limits {
    fn from(server: &ServerSettings) -> Self {
        Self {
            header_read: server.header_read_timeout,
            idle: server.idle_timeout,
        }
    }
}

async fn accept<S>(
    (listener, service): &(TcpListener, S),
    limits: &Limits,
    slots: &Arc<Semaphore>,
    graceful: &GracefulShutdown,
    ended: &CancellationToken,
) where
    S: Service<hyper::Request<Incoming>, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    loop {
        let Ok(slot) = Arc::clone(slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let slot = ConnectionSlot(Arc::new(std::sync::Mutex::new(Some(slot))));
        let held = slot.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            if request.headers().contains_key(hyper::header::UPGRADE) {
                request.extensions_mut().insert(held.clone());
            }
            service.clone().call(request)
        });
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle));
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        let ended = ended.clone();
        tokio::spawn(async move {
            // Errors here are the client's doing (reset, timeout, garbage).
            tokio::select! {
                _ = connection => {}
                () = ended.cancelled() => {}
            }
            drop(slot);
        });
    }
}

/// A connection's place under `server.max_connections`. A WebSocket
/// upgrade takes it with the socket, so that the socket counts against
/// the bound for as long as it lives, not only its HTTP request.
#[derive(Clone)]
pub(super) struct ConnectionSlot(Arc<std::sync::Mutex<Option<OwnedSemaphorePermit>>>);

impl ConnectionSlot {
    /// The place, for whoever goes on with the connection's socket.
    pub(super) fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// A stream that fails with `TimedOut` once no byte was read or written
/// for `idle`.
struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    /// When a byte last moved. The timer is not reset on every read and
    /// write (a timer-wheel update each time was a visible share of a
    /// cached answer's CPU); when it fires early it is moved to the real
    /// deadline instead.
    last_moved: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            last_moved: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn moved(&mut self) {
        self.last_moved = Instant::now();
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.deadline.as_mut().poll(cx));
            let due = self.last_moved + self.idle;
            if due <= Instant::now() {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection idle"));
            }
            self.deadline.as_mut().reset(due);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if matches!(result, Ok(written) if written > 0) {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(written) if written > 0) {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const IDLE: Duration = Duration::from_millis(300);

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_times_out_after_the_idle_timeout() {
        let (_client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, IDLE);
        let started = Instant::now();
        let mut byte = [0_u8; 1];
        let failed = server.read(&mut byte).await.expect_err("idle");
        assert_eq!(failed.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_outlives_the_idle_timeout_and_times_out_once_quiet() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, IDLE);
        let started = Instant::now();
        let mut byte = [0_u8; 1];
        for sent in 0..10 {
            tokio::time::advance(IDLE * 2 / 3).await;
            client.write_all(b"x").await.expect("written");
            let read = server.read(&mut byte).await;
            assert!(matches!(read, Ok(1)), "byte {sent}: {read:?}");
        }
        let busy = started.elapsed();
        assert_eq!(busy, IDLE * 20 / 3, "more than six idle timeouts");
        let failed = server.read(&mut byte).await.expect_err("idle at last");
        assert_eq!(failed.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), busy + IDLE);
    }
}
