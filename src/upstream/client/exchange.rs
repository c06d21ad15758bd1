//! One HTTP exchange with RemotePC: the request with the key, the answer
//! read within `upstream.max_response_bytes`, then interpreted.

use std::time::Instant;

use reqwest::{Method, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RemotePcClient;
use crate::upstream::envelope::interpret_as;
use crate::upstream::wire::PageRequest;
use crate::upstream::{Endpoint, UpstreamError};

impl RemotePcClient {
    pub(super) async fn exchange<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        paging: Option<PageRequest>,
        body: &impl Serialize,
    ) -> Result<T, UpstreamError> {
        let url =
            self.inner
                .base_url
                .join(endpoint.path())
                .map_err(|_| UpstreamError::Malformed {
                    endpoint,
                    http_status: 0,
                    reason: "endpoint URL cannot be built from base_url",
                })?;
        let method = if endpoint.is_read() {
            Method::GET
        } else {
            Method::POST
        };
        let mut request = self
            .inner
            .http
            .request(method, url)
            .header(header::AUTHORIZATION, self.inner.keys.header())
            .header(header::ACCEPT, "application/json")
            .json(body);
        if let Some(page) = paging {
            request = request.query(&page);
        }
        for (name, value) in crate::telemetry::trace_context::outgoing() {
            request = request.header(name, value);
        }

        let started = Instant::now();
        let result = match self.send_and_read(endpoint, request).await {
            Ok((status, body)) => interpret_as(endpoint, status, &body),
            Err(error) => Err(error),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::debug!(elapsed_ms, "upstream call succeeded"),
            Err(error) => tracing::warn!(elapsed_ms, error = %error, "upstream call failed"),
        }
        result
    }

    /// Sends `request` and reads its answer's status and body, at most
    /// `upstream.max_response_bytes` of it.
    async fn send_and_read(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), UpstreamError> {
        let limit = self.inner.max_response_bytes;
        let mut response = request
            .send()
            .await
            .map_err(|error| self.transport_error(endpoint, error))?;
        let status = response.status().as_u16();
        tracing::Span::current().record("http.response.status_code", status);
        let expected = response.content_length().unwrap_or(0) as usize;
        let mut body = Vec::with_capacity(expected.min(limit));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(endpoint, error))?
        {
            if body.len() + chunk.len() > limit {
                return Err(UpstreamError::TooLarge { endpoint, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn transport_error(&self, endpoint: Endpoint, error: reqwest::Error) -> UpstreamError {
        if error.is_timeout() {
            return UpstreamError::Timeout {
                endpoint,
                timeout: self.inner.request_timeout,
            };
        }
        UpstreamError::Transport {
            endpoint,
            not_sent: error.is_connect(),
            source: error.without_url(),
        }
    }
}
