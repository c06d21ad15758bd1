//! The demo's built-in identity provider (a module of the binary): an
//! ECDSA P-256 key made at start, discovery and JWKS on a loopback port,
//! and a ready-made token for a sample person, so a newcomer can try
//! company sign-in without an identity provider of their own.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Json;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

/// The audience the demo's person tokens carry.
pub(crate) const DEMO_AUDIENCE: &str = "remotepc-demo";
/// The role claim value the demo's person holds.
pub(crate) const DEMO_ROLE: &str = "helpdesk";
const KID: &str = "demo-key";

/// A running demo issuer.
pub(crate) struct DemoIssuer {
    pub(crate) url: String,
    key: EncodingKey,
    server: tokio::task::JoinHandle<()>,
}

impl DemoIssuer {
    /// Makes a key and serves discovery and JWKS on a free loopback port.
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
        let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") });
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route("/jwks", get(move || async move { Json(jwks) }));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            server,
        })
    }

    /// A token for the demo person, valid for `hours`.
    pub(crate) fn person_token(&self, hours: i64) -> anyhow::Result<String> {
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

impl Drop for DemoIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
