//! The receiving half of a `graphql-transport-ws` connection: what the
//! client sent, read as a protocol message, something the protocol does
//! not have, its close, or the end of the stream.

use axum::extract::ws::{Message, WebSocket};

use crate::http::live::protocol::ClientMessage;

/// The next client message.
pub(super) async fn receive(socket: &mut WebSocket) -> Incoming {
    loop {
        let text = match socket.recv().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let reason = "binary messages are not part of graphql-transport-ws";
                return Incoming::Invalid(reason.to_owned());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) => return Incoming::Closed,
            Some(Err(_)) | None => return Incoming::Gone,
        };
        return match serde_json::from_str(text.as_str()) {
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
