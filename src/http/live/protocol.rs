//! The `graphql-transport-ws` messages a client sends, and the close
//! codes and reasons the server answers with.

use async_graphql::Request;
use serde::Deserialize;
use serde_json::Value;

/// The subprotocol spoken.
pub(super) const PROTOCOL: &str = "graphql-transport-ws";
/// No pong (or any message) within `live.client_timeout` of a ping.
pub(super) const CLOSE_SILENT: u16 = 4008;
/// A message waited `live.send_timeout`, or the subscriber fell more
/// than `live.event_buffer` events behind.
pub(super) const CLOSE_TOO_SLOW: u16 = 4009;

/// A message a client sends.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        #[serde(deserialize_with = "request_payload")]
        payload: Box<Request>,
    },
    Complete {
        id: String,
    },
    Ping {},
    Pong {},
}

/// A `subscribe` payload, read as a POST body's entry is (a `documentId`
/// names a trusted document).
fn request_payload<'de, D: serde::Deserializer<'de>>(payload: D) -> Result<Box<Request>, D::Error> {
    let payload = Value::deserialize(payload)?;
    crate::http::reading::request_from_json(payload)
        .map(Box::new)
        .map_err(serde::de::Error::custom)
}

/// The `Authorization` value a `connection_init` payload carries:
/// `authorization`/`Authorization` (`Bearer …`), `headers.Authorization`,
/// or a bare `token`.
pub(super) fn authorization(payload: Option<&Value>) -> Option<String> {
    let payload = payload?;
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    text(payload.get("authorization"))
        .or_else(|| text(payload.get("Authorization")))
        .or_else(|| {
            let headers = payload.get("headers")?;
            text(headers.get("authorization")).or_else(|| text(headers.get("Authorization")))
        })
        .or_else(|| text(payload.get("token")).map(|token| format!("Bearer {token}")))
}

/// The account a `connection_init` asks to act on: `account`, or the
/// `RemotePC-Account` header among its `headers`.
pub(super) fn account(payload: Option<&Value>) -> Option<String> {
    let payload = payload?;
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    text(payload.get("account")).or_else(|| {
        let headers = payload.get("headers")?.as_object()?;
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(crate::http::ACCOUNT_HEADER))
            .and_then(|(_, value)| value.as_str().map(str::to_owned))
    })
}

/// A close reason fits in 123 bytes.
pub(super) fn truncate(reason: &str) -> &str {
    if reason.len() <= 123 {
        return reason;
    }
    let mut end = 123;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
