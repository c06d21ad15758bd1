//! The receiving half of a `graphql-transport-ws` connection: what the
//! client sent, read as a protocol message, something the protocol does
//! not have, its close, or the end of the stream.

use futures::StreamExt;
use tokio::time::{Duration, Instant};
use yawc::OpCode;

use super::Socket;
use crate::http::live::protocol::ClientMessage;

/// graphql-transport-ws's close for a message it does not have.
const CLOSE_INVALID: u16 = 4400;
/// RFC 6455's close for a text message that is not UTF-8.
const CLOSE_NOT_UTF8: u16 = 1007;
/// RFC 6455's close for a message that breaks the server's policy.
const CLOSE_POLICY: u16 = 1008;

/// The WebSocket pings a client may send: the socket queues a pong for
/// each, so a client that pinged faster than it read would grow that
/// queue without end. A burst, then one a second (browsers send none;
/// libraries' heartbeats, one every few seconds at most).
pub(super) struct PingAllowance {
    left: u32,
    refilled: Instant,
}

impl PingAllowance {
    const BURST: u32 = 32;
    const EVERY: Duration = Duration::from_secs(1);

    pub(super) fn new() -> Self {
        Self {
            left: Self::BURST,
            refilled: Instant::now(),
        }
    }

    /// Whether one more ping is allowed now.
    fn take(&mut self) -> bool {
        let earned = self.refilled.elapsed().as_secs() / Self::EVERY.as_secs();
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.left = self.left.saturating_add(earned).min(Self::BURST);
            self.refilled = Instant::now();
        }
        let allowed = self.left > 0;
        self.left = self.left.saturating_sub(1);
        allowed
    }
}

/// The next client message. Cancel-safe: a frame is taken whole or not
/// at all. The socket answers pings itself (within `pings`) and inflates
/// what was deflated before it gets here.
pub(super) async fn receive(socket: &mut Socket, pings: &mut PingAllowance) -> Incoming {
    loop {
        let Some(frame) = socket.next().await else {
            return Incoming::Ended;
        };
        let text = match frame.opcode() {
            OpCode::Text => frame.into_payload(),
            OpCode::Binary => {
                let reason = "binary messages are not part of graphql-transport-ws";
                return Incoming::Invalid(CLOSE_INVALID, reason.to_owned());
            }
            OpCode::Close => return Incoming::Ended,
            OpCode::Ping if !pings.take() => {
                let reason = "too many pings: at most 32 at once, then one a second";
                return Incoming::Invalid(CLOSE_POLICY, reason.to_owned());
            }
            OpCode::Ping | OpCode::Pong | OpCode::Continuation => continue,
        };
        if std::str::from_utf8(&text).is_err() {
            // RFC 6455 §8.1: a text message must be UTF-8, else 1007.
            let reason = "a text message must be UTF-8";
            return Incoming::Invalid(CLOSE_NOT_UTF8, reason.to_owned());
        }
        return match serde_json::from_slice(&text) {
            Ok(message) => Incoming::Message(message),
            Err(_) => Incoming::Invalid(
                CLOSE_INVALID,
                "Invalid message received: expected a graphql-transport-ws message".to_owned(),
            ),
        };
    }
}

/// What the client sent.
pub(super) enum Incoming {
    Message(ClientMessage),
    /// Something this protocol does not have: the close code it calls
    /// for, and why.
    Invalid(u16, String),
    /// A close frame, the end of the stream, or a frame the socket
    /// refused (it then owes the client a close saying why).
    Ended,
}
