//! The sending half of a `graphql-transport-ws` connection: every write
//! has a deadline, and a client that cannot keep up is told so. Its
//! subscriptions each get a `SLOW_CONSUMER` error after what is already
//! queued to it, then close 4009, and the socket is given a grace to take
//! them before it is dropped, so a slow reader learns why it was cut off.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use yawc::Frame;

use super::{Connection, Outgoing};
use crate::graphql::ErrorCode;
use crate::http::live::protocol::{CLOSE_TOO_SLOW, truncate};

/// How long a dropped slow client is given to read its last messages
/// and the close, and a closing client to receive the close's echo.
const GOODBYE_GRACE: Duration = Duration::from_secs(5);

/// Why a message was not sent.
pub(super) enum Unsent {
    /// The client left, or the socket failed.
    Gone,
    /// It waited `live.send_timeout`: the client does not keep up.
    TooSlow,
}

impl Connection {
    /// Sends `message` within `within`.
    pub(super) async fn send_within(
        &mut self,
        message: &Value,
        within: Duration,
    ) -> Result<(), Unsent> {
        let text = Frame::text(message.to_string());
        match tokio::time::timeout(within, self.socket.send(text)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Unsent::Gone),
            Err(_) => Err(Unsent::TooSlow),
        }
    }

    /// Ends the connection of a client that does not keep up: each open
    /// subscription gets a `SLOW_CONSUMER` error queued after what it was
    /// sent already, then close 4009 with `reason`. A frame is written
    /// into the socket's buffer whole before any of it is sent, so a send
    /// cut off by its deadline leaves what is queued whole.
    pub(super) async fn drop_slow(&mut self, reason: &str) {
        crate::telemetry::record_live_dropped(&self.team, "slow_consumer");
        // A subscription's own account of why it fell behind, if queued,
        // is kept; the changes queued behind it are not sent.
        let mut last_words = Vec::new();
        while let Ok(outgoing) = self.outgoing.try_recv() {
            if let Outgoing::Error(id, errors) = outgoing
                && self.running.remove(&id).is_some()
            {
                last_words.push(json!({"id": id, "type": "error", "payload": errors}));
            }
        }
        let mut ids: Vec<String> = self.running.keys().cloned().collect();
        ids.sort();
        self.abort_all();
        let error = json!([{
            "message": format!("{reason}; subscribe again"),
            "extensions": { "code": ErrorCode::SlowConsumer.as_str() },
        }]);
        last_words.extend(
            ids.into_iter()
                .map(|id| json!({"id": id, "type": "error", "payload": error})),
        );
        let goodbye = async {
            for message in last_words {
                self.socket.feed(Frame::text(message.to_string())).await?;
            }
            self.socket
                .feed(close_frame(CLOSE_TOO_SLOW, reason))
                .await?;
            self.socket.flush().await
        };
        if tokio::time::timeout(GOODBYE_GRACE, goodbye).await.is_ok() {
            self.await_close_echo(GOODBYE_GRACE).await;
        }
    }

    /// Closes with `code` and `reason`, and waits (briefly) for the
    /// client's echo, as RFC 6455 has it.
    pub(super) async fn close(&mut self, code: u16, reason: &str) {
        self.abort_all();
        let sent = tokio::time::timeout(
            Duration::from_secs(1),
            self.socket.send(close_frame(code, reason)),
        )
        .await;
        if matches!(sent, Ok(Ok(()))) {
            self.await_close_echo(Duration::from_secs(1)).await;
        }
    }

    /// The socket's reading ended: it queued the close it owes the client
    /// (the echo of the client's close, or 1002, 1007 or 1009 for a frame
    /// that broke the protocol, was not UTF-8 or inflated past the body
    /// limit) and sends it when next read, which then ends. The client sees
    /// why, not 1006; one that just went away costs one failed read.
    pub(super) async fn owed_close(&mut self) {
        self.abort_all();
        let drained = async { while self.socket.next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), drained).await;
    }

    /// Reads (and drops) what the client still sends until its close
    /// frame or the end of the stream, within `grace`.
    async fn await_close_echo(&mut self, grace: Duration) {
        let echo = async {
            while let Some(frame) = self.socket.next().await {
                if frame.opcode() == yawc::OpCode::Close {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(grace, echo).await;
    }
}

fn close_frame(code: u16, reason: &str) -> Frame {
    Frame::close(code.into(), truncate(reason))
}
