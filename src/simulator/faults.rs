//! Faults the simulator can inject, per endpoint or for every call.

use std::time::Duration;

/// A way for a call to go wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer normally, after this extra delay.
    Latency(Duration),
    /// An error envelope with this HTTP status and the vendor's generic
    /// description for it.
    Status(u16),
    /// An error envelope with this status and description.
    Reject {
        /// HTTP status.
        status: u16,
        /// The description, sent with RemotePC's trailing space.
        description: String,
    },
    /// An HTML error page with this status, as a proxy in front would send.
    Html(u16),
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 200 with JSON cut in the middle.
    Truncated,
    /// HTTP 200 whose envelope status is not OK.
    NotOkStatus,
    /// HTTP 200 with an OK envelope whose `code` says 500.
    CodeMismatch,
    /// Accept the request and never answer.
    Hang,
    /// Cut the connection after the headers.
    Reset,
    /// A redirect with this status to `location`, as a misconfigured proxy
    /// or a hostile upstream would send.
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// Where it points.
        location: String,
    },
}

/// Faults met at random, for soaks: each call independently meets at most
/// one, with these probabilities (0–1; their sum at most 1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultMix {
    /// HTTP 500 with the vendor's error envelope.
    pub server_errors: f64,
    /// The connection cut after the headers.
    pub resets: f64,
    /// JSON cut in the middle, an HTML page or an empty body, in turn.
    pub malformed: f64,
    /// No answer at all.
    pub hangs: f64,
}

impl FaultMix {
    /// The fault for a roll in [0, 1), if any.
    pub(crate) fn pick(&self, roll: f64) -> Option<Fault> {
        let mut edge = self.server_errors;
        if roll < edge {
            return Some(Fault::Status(500));
        }
        edge += self.resets;
        if roll < edge {
            return Some(Fault::Reset);
        }
        edge += self.malformed;
        if roll < edge {
            let kinds = [Fault::Truncated, Fault::Html(200), Fault::EmptyBody];
            let index = ((edge - roll) / self.malformed.max(f64::MIN_POSITIVE) * 3.0) as usize;
            return Some(kinds[index.min(2)].clone());
        }
        edge += self.hangs;
        (roll < edge).then_some(Fault::Hang)
    }
}
