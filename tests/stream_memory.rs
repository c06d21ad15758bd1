//! The memory an event stream's compressor holds, counted by a counting
//! allocator (its own test binary: the allocator is the process's). A
//! stream stays open for hours, and `server.max_connections` of them may
//! be open at once, so each codec's stream profile is held to a bound.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use remotepc_gateway::content_coding::{Coding, Compressor, Profile};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

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
