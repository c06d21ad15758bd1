//! permessage-deflate (RFC 7692) on `/graphql`'s WebSocket, and the
//! socket's own limits, read off the wire by a client written here: the
//! handshake's answer, the RSV1 bit of each frame, the messages inflated
//! by flate2 (not by the library the gateway uses), and close codes.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_TOKEN, spawn_gateway_with};
use crate::live_client::WAIT;

/// A browser's offer.
const BROWSER_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// A frame as the server sent it.
struct Frame {
    compressed: bool,
    opcode: u8,
    payload: Vec<u8>,
}

impl Frame {
    /// The text message it carries, inflated when it is compressed.
    fn message(&self) -> Value {
        assert_eq!(self.opcode, 1, "a text frame");
        let text = if self.compressed {
            inflate(&self.payload)
        } else {
            self.payload.clone()
        };
        serde_json::from_slice(&text).expect("a JSON message")
    }
}

/// A WebSocket opened by hand, offering `extensions`.
struct RawSocket {
    stream: TcpStream,
    /// The `Sec-WebSocket-Extensions` the server answered with.
    agreed: Option<String>,
}

impl RawSocket {
    async fn open(url: &str, extensions: &str) -> Self {
        let address = url
            .trim_start_matches("http://")
            .trim_end_matches("/graphql");
        let mut stream = TcpStream::connect(address).await.expect("connected");
        let request = format!(
            "GET /graphql HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Protocol: graphql-transport-ws\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("sent");
        let head = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        assert_eq!(
            header("sec-websocket-protocol").as_deref(),
            Some("graphql-transport-ws")
        );
        let agreed = header("sec-websocket-extensions");
        Self { stream, agreed }
    }

    /// Sends `message`, deflated (RSV1) or not, masked as a client must.
    async fn send(&mut self, message: &Value, compressed: bool) {
        self.send_text(message.to_string().as_bytes(), compressed)
            .await;
    }

    /// Sends `text` as a text frame, whatever its bytes.
    async fn send_text(&mut self, text: &[u8], compressed: bool) {
        let text = text.to_vec();
        let payload = if compressed { deflate(&text) } else { text };
        let first = if compressed { 0xC1 } else { 0x81 };
        self.send_frame(first, &payload).await;
    }

    /// Sends one whole frame: its first byte (FIN, RSV1, opcode), then
    /// `payload`, masked.
    async fn send_frame(&mut self, first: u8, payload: &[u8]) {
        let mut frame = vec![first];
        match u16::try_from(payload.len()) {
            Ok(length) if length < 126 => frame.push(0x80 | length as u8),
            Ok(length) => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&length.to_be_bytes());
            }
            Err(_) => panic!("a test message over 64 KiB"),
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(at, byte)| byte ^ mask[at % 4]),
        );
        self.stream.write_all(&frame).await.expect("sent");
    }

    /// The code of the close frame that comes next.
    async fn close_code(&mut self) -> Option<u16> {
        let close = self.receive().await;
        assert_eq!(close.opcode, 8, "a close frame");
        let code = close.payload.get(..2)?;
        Some(u16::from_be_bytes([code[0], code[1]]))
    }

    /// The next frame, within the wait.
    async fn receive(&mut self) -> Frame {
        tokio::time::timeout(WAIT, self.read_frame())
            .await
            .expect("a frame arrives in time")
    }

    async fn read_frame(&mut self) -> Frame {
        let mut head = [0u8; 2];
        self.stream
            .read_exact(&mut head)
            .await
            .expect("a frame head");
        assert_eq!(head[1] & 0x80, 0, "a server frame is not masked");
        let length = match head[1] & 0x7F {
            126 => u64::from(self.stream.read_u16().await.expect("a length")),
            127 => self.stream.read_u64().await.expect("a length"),
            short => u64::from(short),
        };
        let mut payload = vec![0u8; usize::try_from(length).expect("a length that fits")];
        self.stream
            .read_exact(&mut payload)
            .await
            .expect("the payload");
        Frame {
            compressed: head[0] & 0x40 != 0,
            opcode: head[0] & 0x0F,
            payload,
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(WAIT, stream.read_exact(&mut byte)).await;
        read.expect("the handshake is answered in time")
            .expect("a byte");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("a text head")
}

/// A message as RFC 7692 §7.2.1 sends it: raw deflate, the trailing
/// empty block removed.
fn deflate(text: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    compressor
        .compress_vec(text, &mut out, FlushCompress::Sync)
        .expect("deflated");
    assert!(
        out.ends_with(&[0, 0, 0xFF, 0xFF]),
        "a sync flush's empty block"
    );
    out.truncate(out.len() - 4);
    out
}

/// RFC 7692 §7.2.2: the empty block put back, then raw inflate.
fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
    let mut decompressor = Decompress::new(false);
    let mut out = Vec::with_capacity(payload.len() * 8 + 64);
    decompressor
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("inflated");
    out
}

fn init() -> Value {
    json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {ADMIN_TOKEN}")}})
}

#[tokio::test]
async fn a_client_offering_deflate_gets_compressed_messages_and_may_send_them() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.compression_min_bytes = 0;
    })
    .await;
    let mut socket = RawSocket::open(&gateway.url, BROWSER_OFFER).await;
    assert_eq!(
        socket.agreed.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        "agreed without context kept between messages, either way"
    );
    socket.send(&init(), false).await;
    let ack = socket.receive().await;
    assert!(ack.compressed, "the ack is deflated (RSV1)");
    assert_eq!(ack.message(), json!({"type": "connection_ack"}));

    socket.send(&json!({"type": "ping"}), true).await;
    let pong = socket.receive().await;
    assert!(pong.compressed);
    assert_eq!(
        pong.message(),
        json!({"type": "pong"}),
        "a deflated ping is read"
    );

    let subscribe =
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { nope }"}});
    socket.send(&subscribe, true).await;
    let refused = socket.receive().await;
    assert!(refused.compressed);
    let refused = refused.message();
    assert_eq!(
        (refused["id"].as_str(), refused["type"].as_str()),
        (Some("1"), Some("error")),
        "{refused}"
    );
    let message = refused["payload"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("nope"),
        "the error names the field: {refused}"
    );

    let fields = "name machineId status os osVersion ip comment lastSessionAt lastSessionRaw";
    let page = format!("{{ devices(first: 50) {{ edges {{ cursor node {{ {fields} }} }} }} }}");
    let subscribe = json!({"id": "2", "type": "subscribe", "payload": {"query": page}});
    socket.send(&subscribe, false).await;
    let next = socket.receive().await;
    assert!(next.compressed);
    let inflated = inflate(&next.payload);
    let page = next.message();
    assert_eq!(page["type"], "next", "{page}");
    let devices = page["payload"]["data"]["devices"]["edges"]
        .as_array()
        .map(Vec::len);
    assert_eq!(devices, Some(50), "{page}");
    eprintln!(
        "a 50-device page: {} bytes sent for {}",
        next.payload.len(),
        inflated.len()
    );
    assert!(
        next.payload.len() * 4 <= inflated.len(),
        "a page is sent in at most a quarter of its bytes: {} of {}",
        next.payload.len(),
        inflated.len()
    );
    let complete = socket.receive().await.message();
    assert_eq!(complete, json!({"id": "2", "type": "complete"}));
}

#[tokio::test]
async fn messages_under_the_threshold_go_as_they_are() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let mut socket = RawSocket::open(&gateway.url, BROWSER_OFFER).await;
    assert!(socket.agreed.is_some(), "deflate is agreed");
    socket.send(&init(), true).await;
    let ack = socket.receive().await;
    assert!(
        !ack.compressed,
        "24 bytes, under server.compression_min_bytes"
    );
    assert_eq!(ack.message(), json!({"type": "connection_ack"}));
}

#[tokio::test]
async fn deflate_is_not_agreed_when_compression_is_off_or_a_smaller_window_is_asked() {
    let off = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.compression = false;
        settings.server.compression_min_bytes = 0;
    })
    .await;
    let mut socket = RawSocket::open(&off.url, BROWSER_OFFER).await;
    assert_eq!(socket.agreed, None, "server.compression = false");
    socket.send(&init(), false).await;
    let ack = socket.receive().await;
    assert!(!ack.compressed);
    assert_eq!(ack.message(), json!({"type": "connection_ack"}));

    let on = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.compression_min_bytes = 0;
    })
    .await;
    let small_window = "permessage-deflate; server_max_window_bits=10";
    let mut socket = RawSocket::open(&on.url, small_window).await;
    assert_eq!(socket.agreed, None, "a 10-bit window cannot be honoured");
    socket.send(&init(), false).await;
    let ack = socket.receive().await;
    assert!(
        !ack.compressed,
        "nothing is deflated on a connection without the extension"
    );
    assert_eq!(ack.message(), json!({"type": "connection_ack"}));
}

#[tokio::test]
async fn a_message_too_big_once_inflated_or_not_utf8_closes_its_socket_saying_why() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let mut socket = RawSocket::open(&gateway.url, BROWSER_OFFER).await;
    socket.send(&init(), false).await;
    assert_eq!(
        socket.receive().await.message(),
        json!({"type": "connection_ack"})
    );
    // 8 MiB of one character deflates to a few kilobytes: a bomb against a
    // 256 KiB body limit.
    let bomb = json!({"type": "ping", "payload": {"pad": " ".repeat(8 << 20)}});
    socket.send(&bomb, true).await;
    assert_eq!(socket.close_code().await, Some(1009), "message too big");

    let mut socket = RawSocket::open(&gateway.url, BROWSER_OFFER).await;
    socket
        .send_text(b"{\"type\": \"ping\", \"x\": \"\xff\xfe\"}", true)
        .await;
    assert_eq!(
        socket.close_code().await,
        Some(1007),
        "text that is not UTF-8"
    );

    let mut next = RawSocket::open(&gateway.url, BROWSER_OFFER).await;
    next.send(&init(), true).await;
    let ack = next.receive().await.message();
    assert_eq!(
        ack,
        json!({"type": "connection_ack"}),
        "the gateway goes on serving"
    );
}

#[tokio::test]
async fn a_client_that_pings_faster_than_it_reads_is_closed_1008() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let mut socket = RawSocket::open(&gateway.url, BROWSER_OFFER).await;
    socket.send(&init(), false).await;
    assert_eq!(
        socket.receive().await.message(),
        json!({"type": "connection_ack"})
    );
    for _ in 0..200 {
        socket.send_frame(0x89, b"are you there").await;
    }
    let mut pongs = 0;
    let close = loop {
        let frame = socket.receive().await;
        if frame.opcode != 0xA {
            break frame;
        }
        assert_eq!(frame.payload, b"are you there", "a pong echoes its ping");
        pongs += 1;
    };
    assert_eq!(close.opcode, 8, "a close frame after the pongs");
    let code = u16::from_be_bytes([close.payload[0], close.payload[1]]);
    assert_eq!(code, 1008, "policy: too many pings");
    // 32 at once, then one a second: whatever the machine's pace, the
    // flood is cut off long before its 200 pings are answered.
    assert!(
        (32..100).contains(&pongs),
        "the burst is answered, not the flood: {pongs} pongs"
    );
}
