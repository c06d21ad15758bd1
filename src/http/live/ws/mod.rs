//! GraphQL over WebSocket, `graphql-transport-ws`: `connection_init`
//! (with the bearer token) within `live.client_timeout`, then `subscribe`
//! / `next` / `error` / `complete`, pings both ways. A client that answers
//! no ping is dropped (4008), one that cannot keep up is told
//! `SLOW_CONSUMER` and dropped (4009, see `sending`), and shutdown
//! completes every subscription before closing (1001).

mod handshake;
mod receiving;
mod sending;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::protocol::{CLOSE_SILENT, ClientMessage, authorization, truncate};
use super::{AppState, expiry, too_slow};
use crate::admission::{Refusal, Slot, StreamQuota};
use crate::auth::Credential;
use crate::graphql::RequestIds;
pub(in crate::http) use handshake::{SocketOptions, upgrade};
use receiving::{Incoming, PingAllowance};
use sending::Unsent;

/// What subscription tasks hand the connection to send.
enum Outgoing {
    Next(String, Value),
    /// The operation failed, or fell behind; it is over.
    Error(String, Value),
    Complete(String),
}

/// The close reason of a client dropped as too slow.
const TOO_SLOW: &str =
    "too slow: the client did not keep up (live.event_buffer, live.send_timeout)";

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
    _slot: Slot,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An upgraded connection.
type Socket = yawc::HttpWebSocket;

/// One connection: its subscriptions by id and the queue they send on.
struct Connection {
    socket: Socket,
    /// The WebSocket pings the client may still send.
    pings: PingAllowance,
    running: HashMap<String, Running>,
    sender: mpsc::Sender<Outgoing>,
    outgoing: mpsc::Receiver<Outgoing>,
    /// Cancelled by a subscription that fell behind or could not hand
    /// over a message within `live.send_timeout`.
    too_slow: CancellationToken,
    /// When a subscription's message last went out: a pong that does not
    /// come while the client has such messages to read waits behind
    /// them (too slow), not for a silent client.
    last_delivery: Option<Instant>,
    /// The caller's team or role, for metrics; empty until authenticated.
    team: String,
}

/// Speaks the protocol on an upgraded connection until either side ends
/// it; `speaks_protocol` says whether the client offered it.
async fn serve(
    state: AppState,
    ids: RequestIds,
    (socket, speaks_protocol): (Socket, bool),
    unauthenticated: OwnedSemaphorePermit,
) {
    let (sender, outgoing) = mpsc::channel(16);
    let mut connection = Connection {
        socket,
        pings: PingAllowance::new(),
        running: HashMap::new(),
        sender,
        outgoing,
        too_slow: CancellationToken::new(),
        last_delivery: None,
        team: String::new(),
    };
    if !speaks_protocol {
        return connection.close(4406, "Subprotocol not acceptable").await;
    }
    let timeout = state.live.client_timeout;
    let init = match tokio::time::timeout(
        timeout,
        receiving::receive(&mut connection.socket, &mut connection.pings),
    )
    .await
    {
        Err(_) => {
            return connection
                .close(4408, "Connection initialisation timeout")
                .await;
        }
        Ok(Incoming::Ended) => return connection.owed_close().await,
        Ok(Incoming::Invalid(code, reason)) => return connection.close(code, &reason).await,
        Ok(Incoming::Message(message)) => message,
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
    drop(unauthenticated);
    let ack = json!({"type": "connection_ack"});
    if let Err(unsent) = connection.send_within(&ack, state.live.send_timeout).await {
        return connection.unsent(unsent).await;
    }
    connection.team.clone_from(&credential.caller().team);
    connection.run(&state, credential, ids).await;
}

impl Connection {
    /// The session after `connection_ack`, until either side ends it.
    async fn run(&mut self, state: &AppState, credential: Credential<'_>, ids: RequestIds) {
        let live = &state.live;
        let closed = state.catalog.live().closed().clone();
        let too_slow = self.too_slow.clone();
        let mut pings = tokio::time::interval_at(Instant::now() + live.keep_alive, live.keep_alive);
        let mut unanswered_since: Option<Instant> = None;
        let expired = expiry(credential.valid_for());
        tokio::pin!(expired);
        loop {
            tokio::select! {
                () = closed.cancelled() => return self.shut_down(live.send_timeout).await,
                () = too_slow.cancelled() => return self.drop_slow(TOO_SLOW).await,
                () = &mut expired => {
                    return self.close(4403, "Forbidden: the token expired; connect again with a new one").await;
                }
                received = receiving::receive(&mut self.socket, &mut self.pings) => {
                    unanswered_since = None;
                    let message = match received {
                        Incoming::Ended => return self.owed_close().await,
                        Incoming::Invalid(code, reason) => return self.close(code, &reason).await,
                        Incoming::Message(message) => message,
                    };
                    match self.react(state, &credential, &ids, message) {
                        Reaction::Nothing => {}
                        Reaction::Send(message) => {
                            if let Err(unsent) = self.send_within(&message, live.send_timeout).await {
                                return self.unsent(unsent).await;
                            }
                        }
                        Reaction::Close(code, reason) => return self.close(code, &reason).await,
                    }
                }
                Some(outgoing) = self.outgoing.recv() => {
                    if let Err(unsent) = self.deliver(outgoing, live.send_timeout).await {
                        return self.unsent(unsent).await;
                    }
                }
                _ = pings.tick() => {
                    if let Some(since) = unanswered_since.filter(|since| since.elapsed() >= live.client_timeout) {
                        let busy = self.last_delivery.is_some_and(|at| at + live.client_timeout >= since);
                        if busy {
                            return self.drop_slow(TOO_SLOW).await;
                        }
                        return self.close(CLOSE_SILENT, "no pong within live.client_timeout").await;
                    }
                    unanswered_since.get_or_insert_with(Instant::now);
                    if let Err(unsent) = self.send_within(&json!({"type": "ping"}), live.send_timeout).await {
                        return self.unsent(unsent).await;
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
                    Err(Refusal::too_many_subscriptions(message))
                } else {
                    state
                        .admission
                        .admit_stream(credential, ids.clone(), Ok(*payload))
                };
                match admitted {
                    Ok((operation, slot, quota)) => {
                        let task = self.start(state, id.clone(), operation, quota);
                        self.running.insert(id, Running { task, _slot: slot });
                        Reaction::Nothing
                    }
                    Err(refused) => {
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
        quota: StreamQuota,
    ) -> JoinHandle<()> {
        let mut responses = state.operations.subscribe(operation);
        let sender = self.sender.clone();
        let fell_behind = self.too_slow.clone();
        let send_timeout = state.live.send_timeout;
        tokio::spawn(async move {
            if let Err(refused) = quota.settle().await {
                let errors = serde_json::json!([refused.into_error()]);
                let _ = sender.send(Outgoing::Error(id, errors)).await;
                return;
            }
            let mut first = true;
            while let Some(response) = responses.next().await {
                let slow = too_slow(&response);
                let failed_at_once =
                    first && response.data == async_graphql::Value::Null && response.is_err();
                first = false;
                let message = if failed_at_once || slow {
                    let errors = serde_json::to_value(&response.errors).unwrap_or_default();
                    Outgoing::Error(id.clone(), errors)
                } else {
                    Outgoing::Next(
                        id.clone(),
                        serde_json::to_value(&response).unwrap_or_default(),
                    )
                };
                let sent = sender.send_timeout(message, send_timeout).await;
                if sent.is_err() || slow {
                    fell_behind.cancel();
                    return;
                }
                if failed_at_once {
                    return;
                }
            }
            let _ = sender.send(Outgoing::Complete(id)).await;
        })
    }

    /// Sends what a subscription handed over.
    async fn deliver(&mut self, outgoing: Outgoing, send_timeout: Duration) -> Result<(), Unsent> {
        let message = match outgoing {
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
        self.send_within(&message, send_timeout).await?;
        self.last_delivery = Some(Instant::now());
        Ok(())
    }

    /// Ends the connection after a message could not be sent.
    async fn unsent(&mut self, unsent: Unsent) {
        match unsent {
            Unsent::Gone => self.abort_all(),
            Unsent::TooSlow => self.drop_slow(TOO_SLOW).await,
        }
    }

    /// Shutdown: every subscription completes, then the connection closes.
    async fn shut_down(&mut self, send_timeout: Duration) {
        let ids: Vec<String> = self.running.keys().cloned().collect();
        self.abort_all();
        for id in ids {
            let complete = json!({"id": id, "type": "complete"});
            if self.send_within(&complete, send_timeout).await.is_err() {
                return;
            }
        }
        self.close(1001, "the gateway is shutting down").await;
    }

    fn abort_all(&mut self) {
        self.running.clear();
    }
}
