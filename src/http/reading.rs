//! Reading a `/graphql` request into GraphQL requests: a POST body (one
//! request or a batch, by text or by trusted `documentId`) or a GET query
//! string.

use async_graphql::Request;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};

use crate::admission::{Batch, DOCUMENT_ID};

/// Where the operation came from.
pub(super) enum Source {
    /// A POST body: one request or a batch, as JSON.
    Body(Bytes),
    /// A GET query string: one query, never a mutation.
    Query(String),
}

impl Source {
    /// The body's or query string's bytes, as sent.
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Self::Body(body) => body,
            Self::Query(query) => query.as_bytes(),
        }
    }
}

/// A JSON array of requests, or one request. Told apart by the first
/// byte: deserializing into async-graphql's untagged `BatchRequest`
/// buffers the whole body into an intermediate tree first, which was
/// about 5% of a planned request's work.
fn batch_or_single(body: &[u8]) -> serde_json::Result<(Vec<Request>, bool)> {
    let first = body
        .iter()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    if first == Some(&b'[') {
        Ok((serde_json::from_slice(body)?, true))
    } else {
        Ok((vec![serde_json::from_slice(body)?], false))
    }
}

/// The requests a body or query string carried.
pub(super) fn read_requests(source: &Source) -> Result<Batch, String> {
    let (requests, is_array) = match source {
        Source::Body(body) if memchr::memmem::find(body, b"\"documentId\"").is_some() => {
            with_document_ids(body)?
        }
        Source::Body(body) => match batch_or_single(body) {
            Ok(read) => read,
            Err(_) => {
                return Err(
                    "the body is not a GraphQL request: expected JSON with a `query` (or an array of them)"
                        .to_owned(),
                );
            }
        },
        Source::Query(query) => (vec![from_query_string(query)?], false),
    };
    Ok(Batch { requests, is_array })
}

/// `Content-Type: application/json` (any parameters); GraphQL over HTTP
/// requires it of POST bodies.
pub(super) fn content_type_is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// A GET request's `query`, `operationName`, `variables` and `extensions`
/// (the last two as JSON objects).
pub(super) fn from_query_string(query: &str) -> Result<Request, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| "the query string cannot be decoded".to_owned())?;
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let json_object = |name: &str| -> Result<Option<serde_json::Value>, String> {
        match value(name) {
            None => Ok(None),
            Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Null) => Ok(None),
                Ok(object @ serde_json::Value::Object(_)) => Ok(Some(object)),
                _ => Err(format!("`{name}` must be a JSON object")),
            },
        }
    };
    let mut request = Request::new(value("query").unwrap_or_default());
    if let Some(id) = value(DOCUMENT_ID) {
        request
            .extensions
            .insert(DOCUMENT_ID.to_owned(), async_graphql::Value::from(id));
    }
    if let Some(name) = value("operationName").filter(|name| !name.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = json_object("variables")? {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    if let Some(serde_json::Value::Object(extensions)) = json_object("extensions")? {
        for (key, value) in extensions {
            request.extensions.insert(
                key,
                async_graphql::Value::from_json(value).unwrap_or_default(),
            );
        }
    }
    Ok(request)
}

/// A body naming documents by `documentId` (trusted documents): each
/// request's id travels in its extensions to the trusted-documents step;
/// with whether the body was an array.
fn with_document_ids(body: &[u8]) -> Result<(Vec<Request>, bool), String> {
    let malformed = || {
        "the body is not a GraphQL request: expected JSON with a `query` or a `documentId` (or an array of them)".to_owned()
    };
    let (entries, is_array) =
        match serde_json::from_slice::<serde_json::Value>(body).map_err(|_| malformed())? {
            serde_json::Value::Array(entries) => (entries, true),
            entry => (vec![entry], false),
        };
    let requests = entries
        .into_iter()
        .map(|entry| request_from_json(entry).map_err(|_| malformed()))
        .collect::<Result<_, String>>()?;
    Ok((requests, is_array))
}

/// One request's JSON object, as every transport reads it: a `documentId`
/// beside the `query` travels in its extensions to the trusted-documents
/// step.
pub(super) fn request_from_json(
    mut entry: serde_json::Value,
) -> Result<Request, serde_json::Error> {
    let id = entry
        .as_object_mut()
        .and_then(|object| object.remove(DOCUMENT_ID));
    let mut request: Request = serde_json::from_value(entry)?;
    if let Some(serde_json::Value::String(id)) = id {
        request
            .extensions
            .insert(DOCUMENT_ID.to_owned(), async_graphql::Value::from(id));
    }
    Ok(request)
}
