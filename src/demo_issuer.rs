//! The demo's built-in identity provider (a module of the binary): an
//! ECDSA P-256 key made at start, discovery and JWKS on a loopback port, a
//! ready-made token for a sample person, and the authorization code flow
//! with PKCE (signing the sample person in at once), so a newcomer can try
//! company sign-in, and the approval page's, without an identity provider
//! of their own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::distr::{Alphanumeric, SampleString};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The audience the demo's person tokens carry.
pub(crate) const DEMO_AUDIENCE: &str = "remotepc-demo";
/// The role claim value the demo's person holds.
pub(crate) const DEMO_ROLE: &str = "helpdesk";
const KID: &str = "demo-key";
/// Codes waiting to be exchanged; past it the oldest are forgotten.
const MAX_CODES: usize = 256;

/// A running demo issuer.
pub(crate) struct DemoIssuer {
    pub(crate) url: String,
    signer: Arc<Signer>,
    server: tokio::task::JoinHandle<()>,
}

struct Signer {
    url: String,
    key: EncodingKey,
    /// Codes handed out, with the PKCE challenge and redirect URI each was
    /// asked with.
    codes: Mutex<HashMap<String, (String, String)>>,
}

impl DemoIssuer {
    /// Makes a key and serves discovery, JWKS and the code flow on a free
    /// loopback port.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .map_err(|_| anyhow::anyhow!("cannot make the demo issuer's key"))?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
                .map_err(|_| anyhow::anyhow!("cannot read the demo issuer's key"))?;
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let jwks = json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "kid": KID, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }] });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("cannot start the demo issuer")?;
        let url = format!("http://{}", listener.local_addr()?);
        let discovery = json!({
            "issuer": url, "jwks_uri": format!("{url}/jwks"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        });
        let signer = Arc::new(Signer {
            url: url.clone(),
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            codes: Mutex::default(),
        });
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { open_to_pages(Json(discovery)) }),
            )
            .route("/jwks", get(move || async move { Json(jwks) }))
            .route("/authorize", get(authorize))
            .route(
                "/token",
                post(token).options(|| async { open_to_pages(()) }),
            )
            .with_state(Arc::clone(&signer));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            signer,
            server,
        })
    }

    /// A token for the demo person, valid for `hours`.
    pub(crate) fn person_token(&self, hours: i64) -> anyhow::Result<String> {
        self.signer.person_token(hours)
    }
}

impl Signer {
    fn person_token(&self, hours: i64) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": self.url, "aud": DEMO_AUDIENCE, "sub": "demo-person-1",
            "name": "Dana Demo", "email": "dana@example.com", "groups": [DEMO_ROLE],
            "iat": now, "exp": now + hours * 3_600,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key).context("cannot sign the demo token")
    }
}

/// Pages on other origins (the gateway's approval page) may read it.
fn open_to_pages(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static("content-type"),
    );
    response
}

#[derive(Deserialize)]
struct Authorize {
    redirect_uri: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
}

/// Signs the demo person in at once: the demo has one person.
async fn authorize(State(signer): State<Arc<Signer>>, Query(asked): Query<Authorize>) -> Response {
    let loopback = ["http://127.0.0.1:", "http://localhost:"]
        .iter()
        .any(|start| asked.redirect_uri.starts_with(start));
    if asked.code_challenge_method != "S256" || !loopback {
        let why = "the demo signs in loopback pages only, with PKCE (S256)";
        return (StatusCode::BAD_REQUEST, why).into_response();
    }
    let code = Alphanumeric.sample_string(&mut rand::rng(), 32);
    {
        let mut codes = signer
            .codes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if codes.len() >= MAX_CODES {
            codes.clear();
        }
        codes.insert(
            code.clone(),
            (asked.code_challenge, asked.redirect_uri.clone()),
        );
    }
    let query = serde_urlencoded::to_string([("code", code.as_str()), ("state", &asked.state)])
        .unwrap_or_default();
    Redirect::to(&format!("{}?{query}", asked.redirect_uri)).into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

/// A code, once, for the person's token, when the verifier matches.
async fn token(State(signer): State<Arc<Signer>>, Form(asked): Form<TokenRequest>) -> Response {
    let waiting = (signer
        .codes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()))
    .remove(&asked.code);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(asked.code_verifier.as_bytes()));
    let answer: Value = match waiting {
        Some((expected, redirect)) if expected == challenge && redirect == asked.redirect_uri => {
            match signer.person_token(12) {
                Ok(token) => {
                    json!({ "access_token": token, "token_type": "Bearer", "expires_in": 43_200 })
                }
                Err(_) => json!({ "error": "server_error" }),
            }
        }
        _ => json!({ "error": "invalid_grant" }),
    };
    let status = if answer.get("access_token").is_some() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    open_to_pages((status, Json(answer)))
}

impl Drop for DemoIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
