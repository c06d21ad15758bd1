//! People signing in with JWTs from an identity provider: an in-test
//! provider on a random loopback port serves discovery and JWKS with real
//! RSA and EC keys (tests/fixtures/oidc), and tokens are signed with a real
//! JOSE library. Each refusal has its exact code.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use remotepc_gateway::settings::{OidcSettings, RoleSettings};
use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, error_code, spawn_gateway_with};

pub(crate) const AUDIENCE: &str = "helpdesk-web";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/oidc/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("fixture {path}"))
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("{name}.jwk.json"))).expect("a JWK")
}

/// The in-test identity provider: what it publishes, how often its keys
/// were fetched, and whether it answers at all.
#[derive(Clone)]
pub(crate) struct Idp {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    pub(crate) up: Arc<AtomicBool>,
    /// What discovery names as `jwks_uri`; the provider's own when `None`.
    jwks_uri: Arc<Mutex<Option<String>>>,
}

impl Idp {
    pub(crate) async fn start(keys: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let idp = Self {
            issuer,
            keys: Arc::new(Mutex::new(keys.iter().map(|name| jwk(name)).collect())),
            fetches: Arc::default(),
            up: Arc::new(AtomicBool::new(true)),
            jwks_uri: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        idp
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    pub(crate) fn publish(&self, keys: &[&str]) {
        *self.keys.lock().expect("keys") = keys.iter().map(|name| jwk(name)).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn discovery(State(idp): State<Idp>) -> Response {
    if !idp.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let jwks_uri = idp.jwks_uri.lock().expect("uri").clone();
    let jwks_uri = jwks_uri.unwrap_or_else(|| format!("{}/jwks", idp.issuer));
    Json(json!({ "issuer": idp.issuer, "jwks_uri": jwks_uri })).into_response()
}

async fn jwks(State(idp): State<Idp>) -> Response {
    if !idp.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    idp.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = idp.keys.lock().expect("keys").clone();
    Json(json!({ "keys": keys })).into_response()
}

pub(crate) fn role(scopes: &[&str], per_minute: u32, burst: u32) -> RoleSettings {
    RoleSettings {
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        account: "default".to_owned(),
        requests_per_minute: per_minute,
        burst,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: 1,
    }
}

/// The `viewers` role: read, on `default`.
pub(crate) fn viewer_role() -> RoleSettings {
    role(&["read"], 600, 60)
}

/// A gateway trusting `idp` as provider `corp`: role `helpdesk` may read
/// and change computers (burst 5 per person), `viewers` may read.
pub(crate) async fn gateway_trusting(idp: &Idp) -> TestGateway {
    let provider = OidcSettings {
        algorithms: vec!["RS256".to_owned(), "ES256".to_owned()],
        leeway: Duration::from_secs(5),
        jwks_refresh: Duration::from_secs(3_600),
        jwks_min_refresh: Duration::from_secs(30),
        roles_claim: "groups".to_owned(),
        roles: [
            (
                "helpdesk".to_owned(),
                role(&["read", "computers:write"], 600, 5),
            ),
            ("viewers".to_owned(), role(&["read"], 600, 60)),
        ]
        .into(),
        ..OidcSettings::new(&idp.issuer, &[AUDIENCE])
    };
    spawn_gateway_with(SimulatorConfig::default(), move |settings| {
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// Claims of a person of `groups`, valid for an hour, adjusted by `tweak`.
pub(crate) fn claims(
    idp: &Idp,
    subject: &str,
    groups: &[&str],
    tweak: impl FnOnce(&mut Value),
) -> Value {
    let mut claims = json!({
        "iss": idp.issuer, "aud": AUDIENCE, "sub": subject,
        "name": format!("Person {subject}"), "groups": groups,
        "iat": now(), "exp": now() + 3_600,
    });
    tweak(&mut claims);
    claims
}

/// `claims` signed by fixture key `key` (`rsa-*` with RS256, `ec-*` with ES256).
pub(crate) fn sign(key: &str, claims: &Value) -> String {
    let pem = fixture(&format!("{key}.pem"));
    let (algorithm, encoding) = if key.starts_with("ec") {
        (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes()))
    } else {
        (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes()))
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(key.to_owned());
    jsonwebtoken::encode(&header, claims, &encoding.expect("a key")).expect("signed")
}

async fn ask(gateway: &TestGateway, token: &str, query: &str) -> (u16, Value) {
    let body = json!({ "query": query }).to_string();
    let authorization = format!("Bearer {token}");
    let (status, text) = gateway
        .send(&body, &[("authorization", authorization.as_str())])
        .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

const COUNT: &str = "{ devices { totalCount } }";

#[tokio::test]
async fn valid_tokens_from_rsa_and_ec_keys_are_accepted() {
    let idp = Idp::start(&["rsa-1", "ec-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    for key in ["rsa-1", "ec-1"] {
        let token = sign(key, &claims(&idp, "alice", &["viewers"], |_| {}));
        let (status, body) = ask(&gateway, &token, COUNT).await;
        assert_eq!(status, 200, "{key}: {body}");
        assert_eq!(body["data"]["devices"]["totalCount"], 50, "{key}: {body}");
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_each_with_its_reason() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    let valid = |tweak: fn(&mut Value)| sign("rsa-1", &claims(&idp, "bob", &["viewers"], tweak));
    let tampered = {
        let token = valid(|_| {});
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = claims(&idp, "bob", &["helpdesk"], |_| {});
        parts[1] = base64_url(&forged.to_string());
        parts.join(".")
    };
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"JWT"}"#),
        base64_url(&claims(&idp, "bob", &["helpdesk"], |_| {}).to_string())
    );
    let confused = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".to_owned());
        let secret = EncodingKey::from_secret(fixture("rsa-1.pub.pem").as_bytes());
        jsonwebtoken::encode(
            &header,
            &claims(&idp, "bob", &["helpdesk"], |_| {}),
            &secret,
        )
        .expect("signed")
    };
    let huge = sign(
        "rsa-1",
        &claims(&idp, "bob", &["viewers"], |claims| {
            claims["padding"] = json!("x".repeat(100_000));
        }),
    );
    let cases = [
        (
            valid(|claims| claims["exp"] = json!(now() - 600)),
            "expired",
        ),
        (
            valid(|claims| claims["nbf"] = json!(now() + 600)),
            "not valid yet",
        ),
        (
            valid(|claims| claims["aud"] = json!("someone-else")),
            "another audience",
        ),
        (
            sign("other", &claims(&idp, "bob", &["viewers"], |_| {})),
            "unknown key",
        ),
        (tampered, "signature is invalid"),
        (unsigned, "algorithm is not accepted"),
        (confused, "algorithm is not accepted"),
        (huge, "too large"),
        (
            valid(|claims| claims["sub"] = json!("")),
            "`sub` claim is empty",
        ),
        (
            valid(|claims| claims["sub"] = json!("  ")),
            "`sub` claim is empty",
        ),
    ];
    for (token, reason) in cases {
        let (status, body) = ask(&gateway, &token, COUNT).await;
        assert_eq!(
            (status, error_code(&body)),
            (401, "UNAUTHENTICATED"),
            "{reason}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{reason}: {message}");
    }
    // Another issuer's token is no provider's: refused without a fetch.
    let foreign = sign(
        "rsa-1",
        &claims(&idp, "bob", &["viewers"], |claims| {
            claims["iss"] = json!("https://elsewhere.example.com");
        }),
    );
    let (status, body) = ask(&gateway, &foreign, COUNT).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_forged_kids_cannot_hammer_the_provider() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    assert_eq!(idp.fetches(), 1, "keys are fetched at start");
    idp.publish(&["rsa-1", "rsa-2"]);
    let rotated = sign("rsa-2", &claims(&idp, "carol", &["viewers"], |_| {}));
    // Right after start: the fetch at start does not hold a new key back.
    let (status, body) = ask(&gateway, &rotated, COUNT).await;
    assert_eq!(status, 200, "the new key after one refetch: {body}");
    assert_eq!(idp.fetches(), 2);
    for index in 0..50 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("forged-{index}"));
        let pem = fixture("rsa-1.pem");
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("key");
        let token =
            jsonwebtoken::encode(&header, &claims(&idp, "eve", &["helpdesk"], |_| {}), &key)
                .expect("signed");
        let (status, _) = ask(&gateway, &token, COUNT).await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        idp.fetches(),
        2,
        "50 forged kids within the interval: no refetch"
    );
    gateway.clock.advance(Duration::from_secs(31));
    let (status, _) = ask(
        &gateway,
        &sign("other", &claims(&idp, "eve", &["viewers"], |_| {})),
        COUNT,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        idp.fetches(),
        3,
        "past the interval, one more unknown kid: one fetch"
    );
}

#[tokio::test]
async fn a_jwks_uri_found_through_discovery_must_be_https() {
    let idp = Idp::start(&["rsa-1"]).await;
    *idp.jwks_uri.lock().expect("uri") = Some("http://keys.example.com/jwks".to_owned());
    let gateway = gateway_trusting(&idp).await;
    let token = sign("rsa-1", &claims(&idp, "alice", &["viewers"], |_| {}));
    let (status, _) = ask(&gateway, &token, COUNT).await;
    assert_eq!(status, 401, "no keys were fetched from a plain-http URL");
    assert_eq!(idp.fetches(), 0);
    let ready = reqwest::get(gateway.url.replace("/graphql", "/readyz"))
        .await
        .expect("readyz answers");
    let report: Value = ready.json().await.expect("JSON");
    assert_eq!(report["identityProviders"]["corp"], "stale", "{report}");
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_provider_is_down() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    idp.up.store(false, Ordering::SeqCst);
    gateway.clock.advance(Duration::from_secs(31));
    let unknown = sign("rsa-2", &claims(&idp, "dan", &["viewers"], |_| {}));
    let (status, _) = ask(&gateway, &unknown, COUNT).await;
    assert_eq!(status, 401, "an unknown key while the provider is down");
    let known = sign("rsa-1", &claims(&idp, "dan", &["viewers"], |_| {}));
    let (status, body) = ask(&gateway, &known, COUNT).await;
    assert_eq!(status, 200, "the last good keys still work: {body}");
    let ready = reqwest::get(gateway.url.replace("/graphql", "/readyz"))
        .await
        .expect("readyz answers");
    let report: Value = ready.json().await.expect("JSON");
    assert_eq!(report["identityProviders"]["corp"], "stale", "{report}");
}

#[tokio::test]
async fn a_persons_mutation_is_audited_under_their_subject_and_role() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    let name = gateway.devices_by_status(true)[0].clone();
    let comment = format!(
        "mutation {{ addComputerComment(input: {{ computerName: \"{name}\", comment: \"Checked by Alice\" }}) {{ device {{ comment }} }} }}"
    );
    let alice = sign(
        "rsa-1",
        &claims(&idp, "alice-sub", &["helpdesk", "unmapped"], |_| {}),
    );
    let (status, body) = ask(&gateway, &alice, &comment).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["addComputerComment"]["device"]["comment"],
        "Checked by Alice"
    );

    let viewer = sign("rsa-1", &claims(&idp, "victor", &["viewers"], |_| {}));
    let (_, refused) = ask(&gateway, &viewer, &comment).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    assert_eq!(
        gateway.calls(Endpoint::CommentAdd),
        1,
        "nothing sent for the viewer"
    );

    let nobody = sign("rsa-1", &claims(&idp, "nina", &["interns"], |_| {}));
    let (status, body) = ask(&gateway, &nobody, COUNT).await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");

    let audit = gateway
        .gql(
            "{ auditLog(filter: { actor: \"alice-sub\" }) { nodes { operation team actor { kind subject name issuer via } } } }",
            json!({}),
        )
        .await;
    let entries = audit["data"]["auditLog"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(
        entries[0]["actor"],
        json!({ "kind": "PERSON", "subject": "alice-sub", "name": "Person alice-sub", "issuer": idp.issuer, "via": "corp/helpdesk" })
    );
    assert_eq!(entries[0]["team"], "corp/helpdesk");
}

#[tokio::test]
async fn two_people_of_one_role_have_separate_quotas() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    let first = sign("rsa-1", &claims(&idp, "first", &["helpdesk"], |_| {}));
    let second = sign("rsa-1", &claims(&idp, "second", &["helpdesk"], |_| {}));
    for request in 0..5 {
        let (status, _) = ask(&gateway, &first, COUNT).await;
        assert_eq!(status, 200, "request {request} within the burst of 5");
    }
    let (status, body) = ask(&gateway, &first, COUNT).await;
    assert_eq!((status, error_code(&body)), (429, "RATE_LIMITED"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("you are over your quota in role `corp/helpdesk`; retry in "),
        "a person is told it is their quota, not a team's: {message}"
    );
    let (status, body) = ask(&gateway, &second, COUNT).await;
    assert_eq!(status, 200, "the second person has their own quota: {body}");
}

#[tokio::test]
async fn viewer_says_who_is_calling_and_is_never_served_to_someone_else() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    // `devices` makes the response cacheable but for `viewer`; asked three
    // times each (a response is kept on its second sighting).
    let query = "{ viewer { kind subject name via scopes account quota { limit burst remaining resetMs } } devices { totalCount } }";
    for subject in ["ann", "ben", "ann", "ben", "ann", "ben"] {
        let token = sign("rsa-1", &claims(&idp, subject, &["helpdesk"], |_| {}));
        let (status, body) = ask(&gateway, &token, query).await;
        assert_eq!(status, 200, "{body}");
        let viewer = &body["data"]["viewer"];
        assert_eq!(viewer["subject"], subject, "{body}");
        assert_eq!(viewer["kind"], "PERSON");
        assert_eq!(viewer["via"], "corp/helpdesk");
        assert_eq!(viewer["scopes"], json!(["computers:write", "read"]));
        assert_eq!(viewer["quota"]["limit"], 600);
        assert_eq!(viewer["quota"]["burst"], 5);
    }
    let carol = sign("rsa-1", &claims(&idp, "carol", &["helpdesk"], |_| {}));
    let (_, first) = ask(&gateway, &carol, query).await;
    let (_, second) = ask(&gateway, &carol, query).await;
    assert_eq!(first["data"]["viewer"]["quota"]["remaining"], 4, "{first}");
    assert_eq!(
        second["data"]["viewer"]["quota"]["remaining"], 3,
        "{second}"
    );
    assert!(second["data"]["viewer"]["quota"]["resetMs"].as_u64() > Some(0));

    let team = gateway
        .gql("{ viewer { kind subject via name } }", json!({}))
        .await;
    assert_eq!(
        team["data"]["viewer"],
        json!({ "kind": "TEAM", "subject": "admin", "via": "admin", "name": null })
    );
}
