//! GraphiQL served entirely by the gateway, so it works without internet
//! access: the page and its start script are ours; React, ReactDOM and
//! GraphiQL come from the npm registry at pinned versions, with their
//! licences (`scripts/fetch-graphiql.sh` refreshes `assets/graphiql/`).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

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

pub(super) async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub(super) async fn home() -> Redirect {
    Redirect::to("/graphiql")
}

pub(super) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
