//! `Settings::validate`: the rules no single field's type can express, each
//! error naming the key at fault and the fix.

use std::time::Duration;

use super::{SCOPES, Settings, SettingsError};

pub(super) fn invalid(key: &str, problem: &str) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_owned(),
        problem: problem.to_owned(),
    }
}

impl Settings {
    /// Checks the rules no single field's type can express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_accounts()?;
        self.validate_upstream()?;
        self.validate_server()?;
        self.validate_teams()?;
        self.validate_oidc()?;
        self.live.validate(&self.cache)?;
        self.otel.validate()?;
        self.cluster.validate()?;
        let teams: Vec<_> = self.teams.keys().collect();
        self.mcp
            .validate(&teams, &self.auth.oidc.keys().collect::<Vec<_>>())?;
        self.validate_rest()
    }

    fn validate_accounts(&self) -> Result<(), SettingsError> {
        if self.accounts.is_empty() {
            return Err(invalid(
                "accounts",
                "no RemotePC account is configured; add [accounts.default] with base_url and api_key_env or api_key_file",
            ));
        }
        for (id, account) in &self.accounts {
            let sources = [
                account.api_key_env.is_some(),
                account.api_key_file.is_some(),
                account.api_key_inline.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count();
            if sources != 1 {
                return Err(invalid(
                    &format!("accounts.{id}.api_key_env"),
                    "set exactly one of api_key_env (an environment variable's name) or api_key_file (a path)",
                ));
            }
            if let Some(proxy) = &account.proxy
                && reqwest::Proxy::all(proxy).is_err()
            {
                return Err(invalid(
                    &format!("accounts.{id}.proxy"),
                    "not a proxy URL (e.g. http://proxy.internal:3128)",
                ));
            }
            let key = format!("accounts.{id}.base_url");
            let Ok(url) = reqwest::Url::parse(&account.base_url) else {
                return Err(invalid(
                    &key,
                    "not an absolute URL (e.g. https://web1.remotepc.com/rpcnew/api/msp/)",
                ));
            };
            if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback(&url)) {
                return Err(invalid(
                    &key,
                    "must be https:// (the API key travels in every call); http:// is allowed only for loopback addresses such as the simulator",
                ));
            }
        }
        Ok(())
    }

    fn validate_upstream(&self) -> Result<(), SettingsError> {
        let upstream = &self.upstream;
        if !(1..=500).contains(&upstream.page_size) {
            return Err(invalid(
                "upstream.page_size",
                "must be between 1 and 500 (the vendor's maximum)",
            ));
        }
        if !(1..=50).contains(&upstream.remove_batch_size) {
            return Err(invalid(
                "upstream.remove_batch_size",
                "must be between 1 and 50 (the vendor's maximum)",
            ));
        }
        for (key, value) in [
            ("upstream.max_concurrent", upstream.max_concurrent as u64),
            (
                "upstream.rate_per_second",
                u64::from(upstream.rate_per_second),
            ),
            ("upstream.burst", u64::from(upstream.burst)),
            (
                "upstream.retry_attempts",
                u64::from(upstream.retry_attempts),
            ),
            (
                "upstream.breaker_failures",
                u64::from(upstream.breaker_failures),
            ),
            ("upstream.page_fanout", upstream.page_fanout as u64),
            (
                "upstream.max_collection_records",
                upstream.max_collection_records,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if upstream.key_reload_interval.is_zero() {
            return Err(invalid(
                "upstream.key_reload_interval",
                "must be longer than 0s",
            ));
        }
        Ok(())
    }

    fn validate_server(&self) -> Result<(), SettingsError> {
        let server = &self.server;
        let call_budget = self.upstream.queue_timeout + self.upstream.request_timeout;
        if server.request_timeout <= call_budget {
            return Err(invalid(
                "server.request_timeout",
                &format!(
                    "must be longer than upstream.queue_timeout + upstream.request_timeout ({}), so a slow RemotePC call is reported as UPSTREAM_TIMEOUT before the request itself times out",
                    humantime::format_duration(call_budget)
                ),
            ));
        }
        for (key, value) in [
            ("server.header_read_timeout", server.header_read_timeout),
            ("server.idle_timeout", server.idle_timeout),
        ] {
            if value < Duration::from_millis(100) {
                return Err(invalid(key, "must be at least 100ms"));
            }
        }
        if server.max_connections == 0 {
            return Err(invalid("server.max_connections", "must be at least 1"));
        }
        if server
            .admin_listen
            .is_some_and(|admin| admin.port() != 0 && admin == server.listen)
        {
            return Err(invalid(
                "server.admin_listen",
                "must differ from server.listen",
            ));
        }
        if let Some(origin) = server.cors_origins.iter().find(|origin| {
            axum::http::HeaderValue::from_str(origin).is_err()
                || !origin.contains("://")
                || origin.ends_with('/')
        }) {
            return Err(invalid(
                "server.cors_origins",
                &format!(
                    "`{origin}` is not an origin like https://app.example.com (scheme, host, optional port, no path)"
                ),
            ));
        }
        if let Some(name) = server
            .cors_allow_headers
            .iter()
            .find(|name| axum::http::HeaderName::from_bytes(name.trim().as_bytes()).is_err())
        {
            return Err(invalid(
                "server.cors_allow_headers",
                &format!("`{name}` is not a header name"),
            ));
        }
        Ok(())
    }

    fn validate_teams(&self) -> Result<(), SettingsError> {
        if self.teams.is_empty() && self.auth.oidc.is_empty() {
            return Err(invalid(
                "teams",
                "no team is configured; add [teams.<name>] with token_sha256 (from `remotepc-gateway hash-token`), scopes and account, or an identity provider under [auth.oidc.<name>]",
            ));
        }
        for (name, team) in &self.teams {
            let key = format!("teams.{name}.token_sha256");
            let hash = team.token_sha256.to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return Err(invalid(
                    &key,
                    "must be 64 hex digits: the SHA-256 of the token (`remotepc-gateway hash-token`)",
                ));
            }
            if super::guessable::token_hashes().contains(&hash) {
                return Err(invalid(
                    &key,
                    "is the hash of a guessable token (a common word or number); make a new one with `remotepc-gateway hash-token`",
                ));
            }
            if let Some(unknown) = team
                .scopes
                .iter()
                .find(|scope| !SCOPES.contains(&scope.as_str()))
            {
                return Err(invalid(
                    &format!("teams.{name}.scopes"),
                    &format!("unknown scope `{unknown}`; known: {}", SCOPES.join(", ")),
                ));
            }
            if !self.accounts.contains_key(&team.account) {
                return Err(invalid(
                    &format!("teams.{name}.account"),
                    &format!(
                        "no account `{}` is configured under [accounts]",
                        team.account
                    ),
                ));
            }
            if team.requests_per_minute == 0 || team.burst == 0 {
                return Err(invalid(
                    &format!("teams.{name}.requests_per_minute"),
                    "requests_per_minute and burst must be at least 1",
                ));
            }
        }
        let mut hashes: Vec<String> = self
            .teams
            .values()
            .map(|team| team.token_sha256.to_ascii_lowercase())
            .collect();
        hashes.sort();
        if hashes.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(invalid("teams", "two teams have the same token"));
        }
        Ok(())
    }

    fn validate_rest(&self) -> Result<(), SettingsError> {
        if self.store.max_connections == 0 {
            return Err(invalid("store.max_connections", "must be at least 1"));
        }
        if self.store.sweep_interval.is_zero() {
            return Err(invalid("store.sweep_interval", "must be longer than 0s"));
        }
        if self.store.idempotency_claim_lease < std::time::Duration::from_millis(300) {
            return Err(invalid(
                "store.idempotency_claim_lease",
                "must be at least 300ms (it is renewed every third of it)",
            ));
        }
        if self.cache.ttl.is_zero() {
            return Err(invalid("cache.ttl", "must be longer than 0s"));
        }
        let graphql = &self.graphql;
        if graphql.default_page_size == 0 || graphql.default_page_size > graphql.max_page_size {
            return Err(invalid(
                "graphql.default_page_size",
                "must be at least 1 and at most graphql.max_page_size",
            ));
        }
        if graphql.max_document_nesting < 8 {
            return Err(invalid(
                "graphql.max_document_nesting",
                "must be at least 8",
            ));
        }
        Ok(())
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // RFC 6761: `localhost` and every name under it are loopback.
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        host == "localhost"
            || host.ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    })
}
