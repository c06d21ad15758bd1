//! The receiving half of a `graphql-transport-ws` connection: what the
//! client sent, read as a protocol message, something the protocol does
//! not have, its close, or the end of the stream.

use futures::StreamExt;
use yawc::OpCode;

use super::Socket;

/// graphql-transport-ws's close for a message it does not have.
const CLOSE_INVALID: u16 = 4400;
/// RFC 6455's close for a text message that is not UTF-8.
const CLOSE_NOT_UTF8: u16 = 1007;
use crate::http::live::protocol::ClientMessage;

/// The next client message. Cancel-safe: a frame is taken whole or not
/// at all. The socket answers pings itself and inflates what was deflated
/// before it gets here.
pub(super) async fn receive(socket: &mut Socket) -> Incoming {
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
