//! GraphQL over WebSocket, `graphql-transport-ws`: `connection_init`
//! (with the bearer token) within `live.client_timeout`, then `subscribe`
//! / `next` / `error` / `complete`, pings both ways. A client that answers
//! no ping is dropped (4008), one that cannot keep up is dropped (4009),
//! and shutdown completes every subscription before closing (1001).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::protocol::{
    CLOSE_SILENT, CLOSE_TOO_SLOW, ClientMessage, PROTOCOL, authorization, truncate,
};
use super::{AppState, Refused, admit, expiry, settle, too_slow};
use crate::auth::Credential;
use crate::auth::Settlement;
use crate::graphql::{ErrorCode, RequestIds};
use crate::http::refusal::Refusal;

/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 8 * 1024;

/// `GET /graphql` with `Upgrade: websocket`: the origin is checked as CORS
/// would, then the connection speaks `graphql-transport-ws`.
pub(in crate::http) fn upgrade(
    state: AppState,
    ids: RequestIds,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN)
        && !state.origins.allow(origin, headers)
    {
        let message = "this origin may not open a WebSocket here (server.cors_origins)";
        return Refusal::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
            .answering(headers)
            .into_response();
    }
    let streams = state.streams.clone();
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(state.body_limit)
        // Clients send small messages; the default (128 KiB a connection)
        // would be most of an idle subscriber's memory.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| streams.track_future(serve(state, ids, socket)))
}

/// What subscription tasks hand the connection to send.
enum Outgoing {
    Next(String, Value),
    /// The operation failed before it streamed; it is over.
    Error(String, Value),
    Complete(String),
    Close(u16, String),
}

/// What a client message calls for.
enum Reaction {
    Nothing,
    Send(Value),
    Close(u16, String),
}

/// A running operation: its task, stopped when this is dropped, and its
/// slot, freed at the same moment.
struct Running {
    task: JoinHandle<()>,
    _slot: super::Slot,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: its subscriptions by id and the queue they send on.
struct Connection {
    socket: WebSocket,
    running: HashMap<String, Running>,
    sender: mpsc::Sender<Outgoing>,
    outgoing: mpsc::Receiver<Outgoing>,
}

async fn serve(state: AppState, ids: RequestIds, socket: WebSocket) {
    let (sender, outgoing) = mpsc::channel(16);
    let mut connection = Connection {
        socket,
        running: HashMap::new(),
        sender,
        outgoing,
    };
    if connection
        .socket
        .protocol()
        .is_none_or(|chosen| chosen != PROTOCOL)
    {
        return connection.close(4406, "Subprotocol not acceptable").await;
    }
    let timeout = state.live.client_timeout;
    let init =
        match tokio::time::timeout(timeout, Connection::receive(&mut connection.socket)).await {
            Err(_) => {
                return connection
                    .close(4408, "Connection initialisation timeout")
                    .await;
            }
            Ok(None) => return,
            Ok(Some(Err(reason))) => return connection.close(4400, &reason).await,
            Ok(Some(Ok(message))) => message,
        };
    let ClientMessage::ConnectionInit { payload } = init else {
        return connection.close(4401, "Unauthorized").await;
    };
    let authorization = authorization(payload.as_ref());
    let account = super::protocol::account(payload.as_ref());
    let credential = match state
        .authenticator
        .authenticate(authorization.as_deref(), account.as_deref())
        .await
    {
        Ok(credential) => credential,
        Err(error) => {
            let reason = format!("Forbidden: {error}");
            return connection.close(4403, truncate(&reason)).await;
        }
    };
    if connection
        .send_json(&json!({"type": "connection_ack"}))
        .await
        .is_err()
    {
        return;
    }
    connection.run(&state, credential, ids).await;
}

impl Connection {
    /// The session after `connection_ack`, until either side ends it.
    async fn run(&mut self, state: &AppState, credential: Credential<'_>, ids: RequestIds) {
        let live = &state.live;
        let closed = state.catalog.live().closed().clone();
        let mut pings = tokio::time::interval_at(Instant::now() + live.keep_alive, live.keep_alive);
        let mut unanswered_since: Option<Instant> = None;
        let expired = expiry(credential.valid_for());
        tokio::pin!(expired);
        loop {
            tokio::select! {
                () = closed.cancelled() => return self.shut_down().await,
                () = &mut expired => {
                    return self.close(4403, "Forbidden: the token expired; connect again with a new one").await;
                }
                received = Self::receive(&mut self.socket) => {
                    unanswered_since = None;
                    let message = match received {
                        None => return self.abort_all(),
                        Some(Err(reason)) => return self.close(4400, &reason).await,
                        Some(Ok(message)) => message,
                    };
                    match self.react(state, &credential, &ids, message) {
                        Reaction::Nothing => {}
                        Reaction::Send(message) => {
                            if self.send_json(&message).await.is_err() {
                                return self.abort_all();
                            }
                        }
                        Reaction::Close(code, reason) => return self.close(code, &reason).await,
                    }
                }
                Some(outgoing) = self.outgoing.recv() => {
                    if let Err((code, reason)) = self.deliver(outgoing, live.send_timeout).await {
                        return self.close(code, &reason).await;
                    }
                }
                _ = pings.tick() => {
                    if unanswered_since.is_some_and(|since| since.elapsed() >= live.client_timeout) {
                        return self.close(CLOSE_SILENT, "no pong within live.client_timeout").await;
                    }
                    unanswered_since.get_or_insert_with(Instant::now);
                    if self.send_json(&json!({"type": "ping"})).await.is_err() {
                        return self.abort_all();
                    }
                }
            }
        }
    }

    /// What one client message calls for. Synchronous: the credential
    /// (not `Sync`) is never held across an `.await`.
    fn react(
        &mut self,
        state: &AppState,
        credential: &Credential<'_>,
        ids: &RequestIds,
        message: ClientMessage,
    ) -> Reaction {
        match message {
            ClientMessage::ConnectionInit { .. } => {
                Reaction::Close(4429, "Too many initialisation requests".to_owned())
            }
            ClientMessage::Ping {} => Reaction::Send(json!({"type": "pong"})),
            ClientMessage::Pong {} => Reaction::Nothing,
            ClientMessage::Complete { id } => {
                self.running.remove(&id);
                Reaction::Nothing
            }
            ClientMessage::Subscribe { id, payload } => {
                if self.running.contains_key(&id) {
                    let reason = format!("Subscriber for {id} already exists");
                    return Reaction::Close(4409, truncate(&reason).to_owned());
                }
                let limit = state.live.max_subscriptions_per_connection;
                let admitted = if self.running.len() >= limit {
                    let message = format!(
                        "this connection has {limit} subscriptions open, its limit (live.max_subscriptions_per_connection)"
                    );
                    Err(Refused::new(ErrorCode::TooManySubscriptions, message))
                } else {
                    admit(state, credential, ids.clone(), *payload)
                };
                match admitted {
                    Ok((operation, slot)) => {
                        let quota = (credential.settlement(), credential.caller().clone());
                        let task = self.start(state, id.clone(), operation, quota);
                        self.running.insert(id, Running { task, _slot: slot });
                        Reaction::Nothing
                    }
                    Err(refused) => {
                        // A refused operation still spends what it was
                        // counted (with replicas, settled in the background).
                        if let Some(settlement) = credential.settlement() {
                            tokio::spawn(settlement.settle());
                        }
                        let errors = json!([refused.into_error()]);
                        Reaction::Send(json!({"id": id, "type": "error", "payload": errors}))
                    }
                }
            }
        }
    }

    /// Runs one operation, handing its messages to the connection.
    fn start(
        &self,
        state: &AppState,
        id: String,
        operation: crate::graphql::Operation,
        (settlement, caller): (Option<Settlement>, crate::auth::Caller),
    ) -> JoinHandle<()> {
        let mut responses = state.operations.subscribe(operation);
        let sender = self.sender.clone();
        let send_timeout = state.live.send_timeout;
        tokio::spawn(async move {
            if let Err(refused) = settle(settlement, &caller).await {
                let errors = serde_json::json!([refused.into_error()]);
                let _ = sender.send(Outgoing::Error(id, errors)).await;
                return;
            }
            let mut first = true;
            while let Some(response) = responses.next().await {
                let failed_at_once =
                    first && response.data == async_graphql::Value::Null && response.is_err();
                first = false;
                let message = if failed_at_once {
                    let errors = serde_json::to_value(&response.errors).unwrap_or_default();
                    Outgoing::Error(id.clone(), errors)
                } else {
                    Outgoing::Next(
                        id.clone(),
                        serde_json::to_value(&response).unwrap_or_default(),
                    )
                };
                let slow = too_slow(&response);
                if sender.send_timeout(message, send_timeout).await.is_err() {
                    let _ = sender.try_send(Outgoing::Close(
                        CLOSE_TOO_SLOW,
                        "too slow: a message waited live.send_timeout".to_owned(),
                    ));
                    return;
                }
                if slow {
                    let reason = "too slow: fell behind by live.event_buffer events".to_owned();
                    let _ = sender.send(Outgoing::Close(CLOSE_TOO_SLOW, reason)).await;
                    return;
                }
                if failed_at_once {
                    return;
                }
            }
            let _ = sender.send(Outgoing::Complete(id)).await;
        })
    }

    /// Sends what a subscription handed over; `Err` closes the connection.
    async fn deliver(
        &mut self,
        outgoing: Outgoing,
        send_timeout: Duration,
    ) -> Result<(), (u16, String)> {
        let message = match outgoing {
            Outgoing::Close(code, reason) => return Err((code, reason)),
            Outgoing::Next(id, payload) if self.running.contains_key(&id) => {
                json!({"id": id, "type": "next", "payload": payload})
            }
            Outgoing::Error(id, payload) if self.running.remove(&id).is_some() => {
                json!({"id": id, "type": "error", "payload": payload})
            }
            Outgoing::Complete(id) if self.running.remove(&id).is_some() => {
                json!({"id": id, "type": "complete"})
            }
            // The client completed it already.
            _ => return Ok(()),
        };
        match tokio::time::timeout(send_timeout, self.send_json(&message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) => Err((1006, String::new())),
            Err(_) => Err((
                CLOSE_TOO_SLOW,
                "too slow: a message waited live.send_timeout".to_owned(),
            )),
        }
    }

    /// Shutdown: every subscription completes, then the connection closes.
    async fn shut_down(&mut self) {
        let ids: Vec<String> = self.running.keys().cloned().collect();
        self.abort_all();
        for id in ids {
            if self
                .send_json(&json!({"id": id, "type": "complete"}))
                .await
                .is_err()
            {
                return;
            }
        }
        self.close(1001, "the gateway is shutting down").await;
    }

    fn abort_all(&mut self) {
        self.running.clear();
    }

    /// The next client message; `None` when the client left, `Err` with a
    /// reason when it sent something this protocol does not have.
    async fn receive(socket: &mut WebSocket) -> Option<Result<ClientMessage, String>> {
        loop {
            let text = match socket.recv().await? {
                Ok(Message::Text(text)) => text,
                Ok(Message::Binary(_)) => {
                    return Some(Err(
                        "binary messages are not part of graphql-transport-ws".to_owned()
                    ));
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(_)) | Err(_) => return None,
            };
            return Some(serde_json::from_str(text.as_str()).map_err(|_| {
                "Invalid message received: expected a graphql-transport-ws message".to_owned()
            }));
        }
    }

    async fn send_json(&mut self, message: &Value) -> Result<(), ()> {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .map_err(drop)
    }

    async fn close(&mut self, code: u16, reason: &str) {
        self.abort_all();
        let frame = CloseFrame {
            code,
            reason: truncate(reason).into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
}
