//! GraphiQL served entirely by the gateway, so it works without internet
//! access: the page and its start script are ours; React, ReactDOM and
//! GraphiQL come from the npm registry at pinned versions, with their
//! licences (`scripts/fetch-graphiql.sh` refreshes `assets/graphiql/`).
//! Each asset is compressed once per coding and kept.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::AppState;
use super::encoding::set_encoding;
use crate::content_coding::{Coding, Compressor};

const PAGE: &str = include_str!("graphiql/index.html");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Files under `/graphiql/`, with their content types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("start.js", JAVASCRIPT, include_bytes!("graphiql/start.js")),
    (
        "graphiql.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "LICENSE-graphiql.txt",
        TEXT,
        include_bytes!("../../assets/graphiql/LICENSE-graphiql.txt"),
    ),
    (
        "LICENSE-react.txt",
        TEXT,
        include_bytes!("../../assets/graphiql/LICENSE-react.txt"),
    ),
    (
        "LICENSE-react-dom.txt",
        TEXT,
        include_bytes!("../../assets/graphiql/LICENSE-react-dom.txt"),
    ),
    (
        "VERSIONS",
        TEXT,
        include_bytes!("../../assets/graphiql/VERSIONS"),
    ),
];

/// The page may only run the gateway's own scripts, talk to the gateway,
/// and not be framed (the token bar would be a clickjacking target).
/// GraphiQL sets inline styles, hence `'unsafe-inline'` for styles only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

pub(super) async fn page() -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(PAGE),
    )
        .into_response()
}

pub(super) async fn home() -> Redirect {
    Redirect::to("/graphiql")
}

/// Browsers ask for `/favicon.ico` on every page: there is none, said
/// without an error (a 404 shows in every console) and kept for a day.
pub(super) async fn favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

/// Each asset compressed in each coding, on first demand: GraphiQL's
/// script is 3.5 MB, and compressing it for every page load would cost
/// tens of milliseconds each time.
static COMPRESSED: [[OnceLock<Option<Bytes>>; 3]; ASSETS.len()] =
    [const { [const { OnceLock::new() }; 3] }; ASSETS.len()];

pub(super) async fn asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(index) = ASSETS.iter().position(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (_, content_type, bytes) = ASSETS[index];
    let negotiated = state.compression.negotiate(&headers);
    let coding = state.compression.coding_for(negotiated, bytes.len());
    let compressed = match coding {
        Some(coding) => match COMPRESSED[index][coding.index()].get() {
            Some(kept) => kept.clone().map(|body| (coding, body)),
            // Tens of milliseconds for the script: off the async workers,
            // which would otherwise stall every other request meanwhile.
            None => tokio::task::spawn_blocking(move || compress_asset(index, coding))
                .await
                .ok()
                .flatten()
                .map(|body| (coding, body)),
        },
        None => None,
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "public, max-age=86400"),
    ];
    match compressed {
        Some((coding, body)) => {
            let mut response = (headers, body).into_response();
            set_encoding(response.headers_mut(), coding);
            response
        }
        None => (headers, bytes).into_response(),
    }
}

/// Asset `index` in `coding`, compressed by the first caller and kept.
fn compress_asset(index: usize, coding: Coding) -> Option<Bytes> {
    let slot = &COMPRESSED[index][coding.index()];
    let kept = slot.get_or_init(|| {
        crate::telemetry::record_compression(coding.token());
        let (_, _, bytes) = ASSETS[index];
        Compressor::whole(coding, bytes).ok().map(Bytes::from)
    });
    kept.clone()
}
