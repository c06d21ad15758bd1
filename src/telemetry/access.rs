//! The access log: one `info` line per request, written when its answer
//! leaves (`log.access`, on by default). It names the request and trace
//! ids at the top level of the line, the method, path, status, the team
//! or role, the GraphQL operation, how long it took, what the response
//! cache did and the bytes sent; never a token, a variable or a subject.
//! Handlers note who called, and admission what ran, in a note kept for
//! the request's task, so the line costs no lookup of the span's fields.
//! `http` writes the line as each answer leaves.
//!
//! When the lines are JSON and the log filter is plain enough to say
//! whether it lets `access` through (`telemetry::init` decides, once),
//! the line is written straight from `Line`, as the JSON layer would
//! write its event: through tracing, the line's ten fields were visited
//! one by one, most of the 5,800 instructions it cost a cached answer.

use std::cell::RefCell;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use http_body::Body as _;

tokio::task_local! {
    static NOTE: RefCell<Note>;
}

/// What the handlers of one request noted for its access line.
#[derive(Default)]
pub struct Note {
    team: Option<String>,
    operation: Option<String>,
}

/// Runs `handler` with a note to fill, and gives the note back.
pub async fn noting<T>(handler: impl Future<Output = T>) -> (T, Note) {
    NOTE.scope(RefCell::new(Note::default()), async {
        let answer = handler.await;
        let note = NOTE.with(|note| note.take());
        (answer, note)
    })
    .await
}

/// Notes the caller's team or role (outside a request: nothing).
pub fn note_team(team: &str) {
    let _ = NOTE.try_with(|note| note.borrow_mut().team = Some(team.to_owned()));
}

/// Notes the GraphQL operation's label (`team/name`, or `none`).
pub fn note_operation(operation: &str) {
    let _ = NOTE.try_with(|note| note.borrow_mut().operation = Some(operation.to_owned()));
}

/// `hit` when the response cache answered, `miss` when it could have but
/// held no current response; absent for what it never keeps (errors,
/// mutations, data besides snapshots). The access line's `cache`.
pub const RESPONSE_CACHE: HeaderName = HeaderName::from_static("x-response-cache");

/// The target of the access line's event.
pub(super) const TARGET: &str = "access";

/// How access lines are written, when `init` decided it.
pub(super) enum Direct {
    /// The filter lets no access line through.
    Off,
    /// Each line goes to this writer, whole.
    Write(LineWriter),
}

/// Takes one whole line.
pub(super) type LineWriter = Box<dyn Fn(&[u8]) + Send + Sync>;

static DIRECT: OnceLock<Direct> = OnceLock::new();

/// Has access lines written as `direct` says from now on, instead of
/// through tracing (once per process: the first call decides).
pub(super) fn write_directly(direct: Direct) {
    let _decided_before = DIRECT.set(direct);
}

/// One request as the access line tells it.
pub struct Line<'a> {
    /// The gateway's own id for the request (`x-request-id`).
    pub request_id: &'a str,
    /// The W3C trace it belongs to, when it has one.
    pub trace_id: Option<&'a str>,
    /// As received.
    pub method: &'a Method,
    /// The URL's path, never its query (which may carry variables).
    pub path: &'a str,
    /// What the answer said.
    pub status: StatusCode,
    /// From the first byte read to the answer's headers.
    pub took: Duration,
    /// What the handlers and admission noted.
    pub note: Note,
}

impl Line<'_> {
    /// Writes the line; `headers` and `body` are the answer's.
    pub fn write(self, headers: &HeaderMap, body: &axum::body::Body) {
        let cache = headers
            .get(RESPONSE_CACHE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let bytes = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .or_else(|| body.size_hint().exact());
        match DIRECT.get() {
            Some(Direct::Off) => {}
            Some(Direct::Write(write)) => super::json_lines::with_line_buffer(|line| {
                if self.write_json(cache, bytes, line).is_ok() {
                    write(line.as_bytes());
                }
            }),
            None => tracing::info!(
                target: TARGET,
                request_id = self.request_id,
                trace_id = self.trace_id,
                http.request.method = self.method.as_str(),
                url.path = self.path,
                http.response.status_code = self.status.as_u16(),
                team = self.note.team.as_deref(),
                graphql.operation.name = self.note.operation.as_deref(),
                duration_ms = self.duration_ms(),
                cache,
                bytes,
                "access"
            ),
        }
    }

    fn duration_ms(&self) -> f64 {
        self.took.as_secs_f64() * 1000.0
    }

    /// The line the JSON layer writes for the event above, its newline
    /// included.
    fn write_json(&self, cache: &str, bytes: Option<u64>, line: &mut String) -> fmt::Result {
        use crate::json_text::{write_f64, write_json_str, write_u64};
        line.push_str("{\"timestamp\":\"");
        super::timestamp::write_now(line)?;
        line.push_str("\",\"level\":\"INFO\",\"message\":\"access\",\"request_id\":");
        write_json_str(line, self.request_id)?;
        if let Some(trace_id) = self.trace_id {
            line.push_str(",\"trace_id\":");
            write_json_str(line, trace_id)?;
        }
        line.push_str(",\"http.request.method\":");
        write_json_str(line, self.method.as_str())?;
        line.push_str(",\"url.path\":");
        write_json_str(line, self.path)?;
        line.push_str(",\"http.response.status_code\":");
        write_u64(line, self.status.as_u16().into());
        if let Some(team) = &self.note.team {
            line.push_str(",\"team\":");
            write_json_str(line, team)?;
        }
        if let Some(operation) = &self.note.operation {
            line.push_str(",\"graphql.operation.name\":");
            write_json_str(line, operation)?;
        }
        line.push_str(",\"duration_ms\":");
        write_f64(line, self.duration_ms());
        line.push_str(",\"cache\":");
        write_json_str(line, cache)?;
        if let Some(bytes) = bytes {
            line.push_str(",\"bytes\":");
            write_u64(line, bytes);
        }
        line.push_str(",\"target\":\"access\"}\n");
        Ok(())
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
