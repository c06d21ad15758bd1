use std::sync::Arc;

use super::*;

/// A sink that keeps what it is given, and takes nothing while shut.
#[derive(Clone, Default)]
struct Sink {
    written: Arc<Mutex<Vec<u8>>>,
    shut: Arc<(Mutex<bool>, Condvar)>,
    writes: Arc<Mutex<usize>>,
}

impl Sink {
    fn shut(&self, shut: bool) {
        *self.shut.0.lock().unwrap_or_else(PoisonError::into_inner) = shut;
        self.shut.1.notify_all();
    }

    fn text(&self) -> String {
        let written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8(written.clone()).expect("UTF-8 lines")
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let (shut, opened) = &*self.shut;
        let mut closed = shut.lock().unwrap_or_else(PoisonError::into_inner);
        while *closed {
            closed = opened.wait(closed).unwrap_or_else(PoisonError::into_inner);
        }
        drop(closed);
        *self.writes.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        written.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn log(buffer: &LineBuffer, line: &str) {
    buffer
        .make_writer()
        .write_all(line.as_bytes())
        .expect("a line is taken");
}

/// Spins (yielding) until `ready` holds, failing with `what` after 10 s.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

#[test]
fn lines_from_many_threads_arrive_whole_in_each_threads_order() {
    let sink = Sink::default();
    let (buffer, flush) = LineBuffer::new(sink.clone(), 4096).expect("thread");
    let buffer = Arc::new(buffer);
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let buffer = Arc::clone(&buffer);
            std::thread::spawn(move || {
                for line in 0..500 {
                    log(
                        &buffer,
                        &format!("{{\"thread\":{thread},\"line\":{line}}}\n"),
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a logging thread");
    }
    assert!(flush.flush(Duration::from_secs(10)), "every line written");
    let text = sink.text();
    let mut next = [0; 4];
    for line in text.lines() {
        let line: serde_json::Value = serde_json::from_str(line).expect("a whole line");
        let thread = line["thread"].as_u64().expect("thread") as usize;
        assert_eq!(line["line"], next[thread], "{thread}'s lines in order");
        next[thread] += 1;
    }
    assert_eq!(next, [500; 4]);
    let writes = *sink.writes.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(writes < 2000, "lines gathered into fewer writes: {writes}");
}

/// `gateway_log_waits_total` as the process's recorder renders it.
fn log_waits() -> f64 {
    let page = crate::telemetry::metrics().render();
    page.lines()
        .find_map(|line| line.strip_prefix("gateway_log_waits_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_full_buffer_makes_the_logger_wait_and_loses_nothing() {
    let waits_before = log_waits();
    let sink = Sink::default();
    sink.shut(true);
    let (buffer, flush) = LineBuffer::new(sink.clone(), 64).expect("thread");
    let buffer = Arc::new(buffer);
    // The first line is taken by the writer, which then waits on the
    // shut sink; the buffer behind it fills.
    log(&buffer, "line-000\n");
    wait_for("the writer to take the first line", || {
        buffer.shared.lock().writing
    });
    let logger = {
        let buffer = Arc::clone(&buffer);
        std::thread::spawn(move || {
            for line in 1..40 {
                log(&buffer, &format!("line-{line:03}\n"));
            }
        })
    };
    wait_for("the buffer to fill", || {
        buffer.shared.lock().waiting.len() + 9 > 64
    });
    assert!(!logger.is_finished(), "the logger waits for room");
    assert!(buffer.shared.lock().waiting.len() <= 64);
    assert!(!flush.flush(Duration::from_millis(1)), "not written yet");
    sink.shut(false);
    logger.join().expect("the logger");
    assert!(flush.flush(Duration::from_secs(10)), "every line written");
    let expected: String = (0..40).map(|line| format!("line-{line:03}\n")).collect();
    assert_eq!(sink.text(), expected);
    assert!(log_waits() > waits_before, "the wait is counted");
}

#[test]
fn a_line_longer_than_the_bound_goes_alone_and_is_not_kept() {
    let sink = Sink::default();
    let (buffer, flush) = LineBuffer::new(sink.clone(), 16).expect("thread");
    let long = format!("{}\n", "x".repeat(100));
    log(&buffer, "short\n");
    log(&buffer, &long);
    log(&buffer, "after\n");
    assert!(flush.flush(Duration::from_secs(10)), "every line written");
    assert_eq!(sink.text(), format!("short\n{long}after\n"));
    // The long line's buffer was shrunk after it was written; the other
    // one holds "after".
    assert!(buffer.shared.lock().waiting.capacity() <= 16);
}
