//! The receiving half of a `graphql-transport-ws` connection: what the
//! client sent, read as a protocol message, something the protocol does
//! not have, its close, or the end of the stream.

use futures::StreamExt;
use yawc::OpCode;

use super::Socket;
use crate::http::live::protocol::ClientMessage;

/// The next client message. Cancel-safe: a frame is taken whole or not
/// at all. The socket answers pings itself, and inflates and checks text
/// as UTF-8 before it gets here.
pub(super) async fn receive(socket: &mut Socket) -> Incoming {
    loop {
        let Some(frame) = socket.next().await else {
            return Incoming::Gone;
        };
        let text = match frame.opcode() {
            OpCode::Text => frame.into_payload(),
            OpCode::Binary => {
                let reason = "binary messages are not part of graphql-transport-ws";
                return Incoming::Invalid(reason.to_owned());
            }
            OpCode::Close => return Incoming::Closed,
            OpCode::Ping | OpCode::Pong | OpCode::Continuation => continue,
        };
        return match serde_json::from_slice(&text) {
            Ok(message) => Incoming::Message(message),
            Err(_) => Incoming::Invalid(
                "Invalid message received: expected a graphql-transport-ws message".to_owned(),
            ),
        };
    }
}

/// What the client sent.
pub(super) enum Incoming {
    Message(ClientMessage),
    /// Something this protocol does not have, and why.
    Invalid(String),
    /// A close frame.
    Closed,
    /// The connection ended without one.
    Gone,
}
