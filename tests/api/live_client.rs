//! Clients of the live transports, as frontends speak them: a
//! `graphql-transport-ws` WebSocket client (tokio-tungstenite) and a
//! `graphql-sse` event-stream reader. Every wait has a deadline.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for one message.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// What the server sent.
#[derive(Debug)]
pub(crate) enum Received {
    /// A protocol message.
    Json(Value),
    /// A close frame: code and reason.
    Closed(u16, String),
}

/// A `graphql-transport-ws` connection.
pub(crate) struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    /// Answer server pings (a live client) or not (a silent one).
    pub(crate) answer_pings: bool,
}

impl WsClient {
    /// Opens the socket offering `protocol`, sends nothing.
    pub(crate) async fn open_with(url: &str, protocol: &str, origin: Option<&str>) -> Self {
        let mut request = url
            .replace("http://", "ws://")
            .into_client_request()
            .expect("a WebSocket request");
        let headers = request.headers_mut();
        headers.insert("sec-websocket-protocol", protocol.parse().expect("header"));
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().expect("header"));
        }
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("the upgrade is answered in time")
            .expect("the upgrade succeeds");
        Self {
            stream,
            answer_pings: true,
        }
    }

    /// A connection whose socket takes in at most `receive_buffer` bytes
    /// before its reader reads: a reader that pauses backs the server up
    /// within a few kilobytes.
    pub(crate) async fn connect_narrow(url: &str, token: &str, receive_buffer: u32) -> Self {
        let address: std::net::SocketAddr = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .and_then(|host| host.parse().ok())
            .expect("a loopback address in the URL");
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .set_recv_buffer_size(receive_buffer)
            .expect("the receive buffer is set");
        let tcp = socket.connect(address).await.expect("connected");
        let mut request = url
            .replace("http://", "ws://")
            .into_client_request()
            .expect("a WebSocket request");
        let protocol = "graphql-transport-ws".parse().expect("header");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol);
        let (stream, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)),
        )
        .await
        .expect("the upgrade is answered in time")
        .expect("the upgrade succeeds");
        let client = Self {
            stream,
            answer_pings: true,
        };
        client.initialised(token).await
    }

    /// Opens the socket and sends `connection_init` with `token`; waits for
    /// `connection_ack`.
    pub(crate) async fn connect(url: &str, token: &str) -> Self {
        Self::open_with(url, "graphql-transport-ws", None)
            .await
            .initialised(token)
            .await
    }

    async fn initialised(self, token: &str) -> Self {
        let mut client = self;
        client
            .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}))
            .await;
        match client.receive("connection_ack").await {
            Received::Json(message) if message["type"] == "connection_ack" => client,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("the message is sent");
    }

    /// Sends `subscribe` for `query` under `id`.
    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next message other than a ping (answered when `answer_pings`).
    pub(crate) async fn receive(&mut self, what: &str) -> Received {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("waited {WAIT:?} for {what}"));
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                    if value["type"] == "ping" {
                        if self.answer_pings {
                            self.send(json!({"type": "pong"})).await;
                        }
                        continue;
                    }
                    return Received::Json(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Received::Closed(code, reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(1006, String::new()),
            }
        }
    }

    /// The next protocol message; panics on a close.
    pub(crate) async fn message(&mut self, what: &str) -> Value {
        match self.receive(what).await {
            Received::Json(value) => value,
            Received::Closed(code, reason) => {
                panic!("closed ({code} {reason}) while waiting for {what}")
            }
        }
    }

    /// Messages until the first that `wanted` accepts.
    pub(crate) async fn until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self.message(what).await;
            if wanted(&message) {
                return message;
            }
        }
    }

    /// The first message `wanted` accepts within `wait`, if any.
    pub(crate) async fn within(
        &mut self,
        wait: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        tokio::time::timeout(wait, self.until("a message", wanted))
            .await
            .ok()
    }

    /// Sends a close frame with `code`.
    pub(crate) async fn close(&mut self, code: u16) {
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        self.stream
            .send(Message::Close(Some(frame)))
            .await
            .expect("the close is sent");
    }

    /// The close frame, skipping other messages.
    pub(crate) async fn closed(&mut self, what: &str) -> (u16, String) {
        loop {
            if let Received::Closed(code, reason) = self.receive(what).await {
                return (code, reason);
            }
        }
    }
}

/// A `graphql-sse` stream (distinct connections mode).
pub(crate) struct SseStream {
    response: reqwest::Response,
    buffer: String,
    /// The `id:` of the last event that had one.
    pub(crate) last_id: Option<String>,
}

/// Posts `query` accepting `text/event-stream` with `token`.
pub(crate) async fn sse(url: &str, token: Option<&str>, query: &str) -> reqwest::Response {
    sse_with(url, token, query, &[]).await
}

/// As `sse`, with `headers` (a reconnect's `Last-Event-ID`).
pub(crate) async fn sse_with(
    url: &str,
    token: Option<&str>,
    query: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "text/event-stream")
        .json(&json!({"query": query}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    tokio::time::timeout(WAIT, request.send())
        .await
        .expect("the stream is answered in time")
        .expect("the gateway answers")
}

impl SseStream {
    pub(crate) fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        let media = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default();
        assert!(media.starts_with("text/event-stream"), "{media}");
        Self {
            response,
            buffer: String::new(),
            last_id: None,
        }
    }

    /// The next event's name and data; comments (keep-alives) skipped.
    /// `None` when the stream ended.
    pub(crate) async fn event(&mut self, what: &str) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    } else if let Some(value) = line.strip_prefix("id:") {
                        self.last_id = Some(value.trim().to_owned());
                    }
                }
                if name.is_empty() {
                    continue;
                }
                return Some((name, data));
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("waited {WAIT:?} for {what}"))
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `next` event's payload; panics on anything else.
    pub(crate) async fn next_payload(&mut self, what: &str) -> Value {
        match self.event(what).await {
            Some((name, data)) if name == "next" => serde_json::from_str(&data).expect("JSON data"),
            other => panic!("expected a next event for {what}, got {other:?}"),
        }
    }
}
