//! The memory an event stream's compressor and a compressed WebSocket
//! hold, counted by a counting allocator (its own test binary: the
//! allocator is the process's; the tests take turns). A stream or socket
//! stays open for hours, and `server.max_connections` of them may be open
//! at once, so each is held to a bound.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};

use futures::{SinkExt, StreamExt};

use remotepc_gateway::content_coding::{Coding, Compressor, Profile};
use remotepc_gateway::settings::ServerSettings;
use yawc::{Frame, Role, WebSocket};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// `cargo test` runs a binary's tests on threads of one process: each
/// test counts alone.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

// SAFETY: every call is passed to the system allocator unchanged; only a
// counter of live bytes is kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout, as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: a pointer this allocator returned, with its layout.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as received.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one stream's compressor may hold while open: brotli's quality 3
/// holds 411 KiB, gzip's 343 KiB.
const STREAM_BOUND: isize = 448 * 1024;

#[test]
fn an_open_event_stream_compressor_holds_a_bounded_amount_of_memory() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let event = |index: usize| {
        format!(
            "id: {index}\nevent: next\ndata: {{\"data\":{{\"deviceChanged\":{{\"name\":\"WIN-{index:06}\",\"status\":\"ONLINE\"}}}}}}\n\n"
        )
    };
    let mut held_by = Vec::new();
    for coding in Coding::ALL {
        let before = LIVE.load(Ordering::Relaxed);
        let mut compressor = Compressor::new(coding, Profile::Stream).expect("a compressor");
        let mut sent = 0;
        for index in 0..2_000 {
            sent += compressor
                .push(event(index).as_bytes())
                .expect("compresses")
                .len();
        }
        let held = LIVE.load(Ordering::Relaxed) - before;
        assert!(sent > 0);
        eprintln!("{coding:?}: {} KiB held, {sent} bytes sent", held / 1024);
        drop(compressor);
        held_by.push((coding, held));
    }
    for (coding, held) in held_by {
        assert!(
            held <= STREAM_BOUND,
            "{coding:?} holds {} KiB after 2,000 events",
            held / 1024
        );
    }
}

/// What a compressed connection may hold once its messages are sent, both
/// ends together: their buffers, not deflate state (about 370 KiB a
/// connection that kept its own).
const SOCKET_BOUND: isize = 64 * 1024;

#[test]
fn a_compressed_websocket_holds_no_deflate_state_between_messages() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let held = runtime.block_on(held_by_compressed_sockets(40));
    assert!(
        held <= SOCKET_BOUND * 40,
        "{} KiB a connection",
        held / 40 / 1024
    );
}

/// What `connections` compressed socket pairs (server and client ends)
/// hold once each end has sent the other a 3.3 KiB message.
async fn held_by_compressed_sockets(connections: isize) -> isize {
    let options = remotepc_gateway::http::websocket_options(&ServerSettings::default());
    let agreed = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    let message = |index: usize| {
        let devices: Vec<String> = (0..80)
            .map(|at| format!(r#"{{"name":"WIN-{index:04}-{at:03}","status":"ONLINE"}}"#))
            .collect();
        format!(
            r#"{{"id":"{index}","type":"next","payload":{{"data":[{}]}}}}"#,
            devices.join(",")
        )
    };
    let before = LIVE.load(Ordering::Relaxed);
    let mut sockets = Vec::new();
    for _ in 0..connections {
        let (server_end, client_end) = tokio::io::duplex(256 * 1024);
        let open = |io, role| {
            WebSocket::from_stream_with_extensions(io, role, Some(agreed), options.clone())
                .expect("deflate agreed")
        };
        sockets.push((
            open(server_end, Role::Server),
            open(client_end, Role::Client),
        ));
    }
    let mut wire_bytes = 0;
    for (index, (server, client)) in sockets.iter_mut().enumerate() {
        let text = message(index);
        wire_bytes += 2 * text.len();
        server.send(Frame::text(text.clone())).await.expect("sent");
        let received = client.next().await.expect("a frame");
        assert_eq!(
            received.payload().as_ref(),
            text.as_bytes(),
            "inflated whole"
        );
        client.send(Frame::text(text.clone())).await.expect("sent");
        let received = server.next().await.expect("a frame");
        assert_eq!(
            received.payload().as_ref(),
            text.as_bytes(),
            "inflated whole"
        );
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    eprintln!(
        "{connections} compressed connections: {} KiB held in all after {} KiB of messages",
        held / 1024,
        wire_bytes / 1024
    );
    drop(sockets);
    held
}
