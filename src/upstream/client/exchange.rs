//! One attempt at a RemotePC call: admission (rate, concurrency, breaker),
//! the HTTP exchange with the key, its answer read within
//! `upstream.max_response_bytes` and interpreted, and what it says of the
//! account's health.

use std::time::Instant;

use reqwest::{Method, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RemotePcClient;
use crate::upstream::envelope::interpret_as;
use crate::upstream::flow::{self, Lane};
use crate::upstream::key::KeyStatus;
use crate::upstream::wire::PageRequest;
use crate::upstream::{Endpoint, UpstreamError};

impl RemotePcClient {
    /// One attempt: admission, the exchange, and what it says about the
    /// account's health.
    #[tracing::instrument(level = "debug", name = "upstream.attempt", skip_all, fields(
        otel.kind = "client",
        %endpoint,
        http.request.method = "POST",
        server.address = self.inner.base_url.host_str().unwrap_or_default(),
        server.port = self.inner.base_url.port_or_known_default().map(i64::from),
        url.path = endpoint.path(),
        page = paging.map(|paging| i64::from(paging.page_index)),
        breaker = ?self.inner.gate.breaker.state(),
        admission_wait_ms = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        outcome = tracing::field::Empty,
    ))]
    pub(super) async fn attempt<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        paging: Option<PageRequest>,
        body: &impl Serialize,
    ) -> Result<T, UpstreamError> {
        let account = self.inner.account.as_str();
        let flow = flow::current();
        let (flow, lane) = flow
            .as_ref()
            .map_or((flow::BACKGROUND, Lane::Background), |flow| {
                (flow.label(), Lane::Interactive)
            });
        let admission = Instant::now();
        let admitted = self.inner.gate.admit(endpoint).await;
        // Waiting for a place: the flow's turn, the rate, a free slot.
        let waited = admission.elapsed();
        flow::record(waited, admitted.is_ok());
        let waited = waited.as_secs_f64();
        let span = tracing::Span::current();
        span.record("admission_wait_ms", waited * 1000.0);
        crate::telemetry::record_upstream_queue(flow, lane.as_str(), waited);
        let call = crate::telemetry::UpstreamCall {
            account,
            endpoint: endpoint.path(),
            flow,
        };
        let _slot = match admitted {
            Ok(slot) => slot,
            Err(error) => {
                crate::telemetry::record_upstream(&call, error.kind(), None);
                if matches!(error, UpstreamError::Throttled { .. }) {
                    crate::telemetry::record_rate_limited("upstream", account);
                }
                return Err(error);
            }
        };
        let started = Instant::now();
        let result = self.exchange(endpoint, paging, body).await;
        let refused_connection =
            matches!(result, Err(UpstreamError::Transport { not_sent: true, .. }));
        if !endpoint.is_read() && !refused_connection {
            let unknown = result
                .as_ref()
                .err()
                .is_some_and(UpstreamError::outcome_unknown);
            crate::upstream::witness::may_have_reached(unknown);
        }
        let outcome = result.as_ref().err().map_or("ok", UpstreamError::kind);
        span.record("outcome", outcome);
        crate::telemetry::record_upstream(&call, outcome, Some(started.elapsed().as_secs_f64()));
        self.learn_from(&result);
        crate::telemetry::record_breaker(account, self.inner.gate.breaker.state().gauge());
        result
    }

    /// What an answer says of the account's health: the breaker, the key,
    /// the last success.
    fn learn_from<T>(&self, result: &Result<T, UpstreamError>) {
        match result {
            Ok(_) => {
                self.inner.gate.breaker.record_success();
                self.inner.keys.record(KeyStatus::Accepted);
                *self
                    .inner
                    .last_success
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
            }
            Err(error) => {
                if error.is_upstream_failure() {
                    self.inner.gate.breaker.record_failure();
                } else {
                    // RemotePC answered: it is up, whatever it said.
                    self.inner.gate.breaker.record_success();
                }
                if matches!(
                    error,
                    UpstreamError::Rejected {
                        http_status: 401,
                        ..
                    }
                ) {
                    self.inner.keys.record(KeyStatus::Rejected);
                }
            }
        }
    }

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
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        if status == 429 || (status == 503 && retry_after.is_some()) {
            self.inner.gate.vendor_throttled(retry_after);
        } else if status < 500 {
            self.inner.gate.vendor_answered();
        }
        tracing::Span::current().record("http.response.status_code", i64::from(status));
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
