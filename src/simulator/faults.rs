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
