//! The main address's service, what each connection calls: it gives every
//! request its ids, span and access line (`request_id`), then answers a
//! raw-lane hit on `/graphql` itself, before axum's routing, layers and
//! extractors; every other request goes on to the router. A hit is
//! answered as the router would answer it: the same quota charge, the
//! same kept bytes and headers, the same CORS headers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use tower::Service;

use super::answer::Refused;
use super::reading::{Source, content_type_is_json};
use super::request_id::{AccessLog, identified};
use super::{AppState, graphql, live};
use crate::admission::Refusal;

/// What a connection on the main address calls for each request.
#[derive(Clone)]
pub struct Front {
    state: AppState,
    /// Every route, with its layers (but ids, which are given here).
    router: Router,
}

impl Front {
    pub(super) fn new(state: AppState, router: Router) -> Self {
        Self { state, router }
    }

    async fn answer(self, request: Request) -> Response {
        let access_log = AccessLog(self.state.access_log);
        identified(access_log, request, |request| self.route(request)).await
    }

    /// A lane hit, else the router's answer.
    async fn route(mut self, request: Request) -> Response {
        let response = match LaneShape::of(&request, self.state.body_limit) {
            Some(LaneShape::Post) => self.post_first(request).await,
            Some(LaneShape::Get) => {
                let query = request.uri().query().unwrap_or_default().to_owned();
                let hit = graphql::from_lane(&self.state, request.headers(), Source::Query(query));
                match hit.await {
                    Some(response) => Ok(self.with_cors(request.headers(), response)),
                    None => Err(request),
                }
            }
            None => Err(request),
        };
        match response {
            Ok(response) => response,
            Err(request) => match self.router.call(request).await {
                Ok(response) => response,
                Err(infallible) => match infallible {},
            },
        }
    }

    /// A `POST`'s body read (it is within the body limit), then offered to
    /// the lane; a miss goes to the router with the bytes read.
    async fn post_first(&self, request: Request) -> Result<Response, Request> {
        let (parts, body) = request.into_parts();
        let Ok(body) = axum::body::to_bytes(body, self.state.body_limit).await else {
            // What the handler answers when a body cannot be read.
            let refusal = Refusal::bad_request("the request body could not be read");
            let compression = &self.state.compression;
            let negotiated = compression.negotiate(&parts.headers);
            let refused = compression.encode(negotiated, refusal.answering(&parts.headers));
            return Ok(self.with_cors(&parts.headers, refused.await));
        };
        let hit = graphql::from_lane(&self.state, &parts.headers, Source::Body(body.clone()));
        match hit.await {
            Some(response) => Ok(self.with_cors(&parts.headers, response)),
            None => Err(Request::from_parts(parts, Body::from(body))),
        }
    }

    /// The headers the router's CORS layer adds to an answer.
    fn with_cors(&self, headers: &HeaderMap, mut response: Response) -> Response {
        (self.state.origins).allow_response(headers, response.headers_mut());
        response
    }
}

/// The `/graphql` requests the lane may answer: a query string, or a JSON
/// body whose announced length is within the limit (the router refuses
/// the others, and reads bodies without a length under its limit layer);
/// never a WebSocket upgrade or an event stream.
enum LaneShape {
    Post,
    Get,
}

impl LaneShape {
    fn of(request: &Request, body_limit: usize) -> Option<Self> {
        let headers = request.headers();
        if request.uri().path() != "/graphql" || live::wants_event_stream(headers) {
            return None;
        }
        match *request.method() {
            Method::GET if !headers.contains_key(header::UPGRADE) => Some(Self::Get),
            Method::POST => {
                let within = graphql::announced_length(headers)? <= body_limit as u64;
                (within && content_type_is_json(headers)).then_some(Self::Post)
            }
            _ => None,
        }
    }
}

impl<B> Service<axum::http::Request<B>> for Front
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let front = self.clone();
        Box::pin(async move { Ok(front.answer(request.map(Body::new)).await) })
    }
}
