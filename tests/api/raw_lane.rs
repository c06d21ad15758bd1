//! The raw-request lane: a request whose exact bytes were answered from the
//! response cache before is answered again before it is parsed, ahead of
//! the router, yet with the same quota, audience, media type, metrics,
//! freshness and headers as any other request; a body without a length
//! goes the router's way.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    ADMIN_TOKEN, TestGateway, error_code, metrics, spawn_gateway, spawn_gateway_with, team,
    temp_store_path,
};

const TINY_TOKEN: &str = "tiny-lane-token-00000000000";
const TRUSTED_TOKEN: &str = "trusted-lane-token-0000000";
const QUERY: &str = "query LaneProbe { devices(first: 2) { totalCount edges { node { name } } } }";

/// Status, `x-response-cache`, content type and parsed body of one POST of
/// exactly `body`.
async fn send(
    gateway: &TestGateway,
    token: &str,
    body: &str,
    accept: &str,
) -> (u16, Option<String>, String, Value) {
    let response = gateway
        .http
        .post(&gateway.url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_owned())
        .send()
        .await
        .expect("gateway answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (cache, media) = (header("x-response-cache"), header("content-type"));
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, cache, media.unwrap_or_default(), body)
}

fn body() -> String {
    json!({ "query": QUERY, "operationName": "LaneProbe" }).to_string()
}

#[tokio::test]
async fn an_answer_by_bytes_still_spends_the_quota() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let mut tiny = team(TINY_TOKEN, &["read"]);
        tiny.requests_per_minute = 1;
        tiny.burst = 4;
        settings.teams.insert("tiny".to_owned(), tiny);
    })
    .await;
    let mut caches = Vec::new();
    for _ in 0..4 {
        let (status, cache, _, answer) = send(&gateway, TINY_TOKEN, &body(), "*/*").await;
        assert_eq!(status, 200, "{answer}");
        caches.push(cache);
    }
    assert_eq!(caches[2].as_deref(), Some("hit"), "{caches:?}");
    assert_eq!(caches[3].as_deref(), Some("hit"), "{caches:?}");
    let (status, _, _, refused) = send(&gateway, TINY_TOKEN, &body(), "*/*").await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(error_code(&refused), "RATE_LIMITED");
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

#[tokio::test]
async fn the_same_bytes_are_answered_in_the_media_type_each_request_accepts() {
    let gateway = spawn_gateway().await;
    let graphql = "application/graphql-response+json";
    for _ in 0..3 {
        send(&gateway, ADMIN_TOKEN, &body(), graphql).await;
    }
    let (_, cache, media, first) = send(&gateway, ADMIN_TOKEN, &body(), graphql).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert!(media.starts_with(graphql), "{media}");
    let (_, cache, media, second) = send(&gateway, ADMIN_TOKEN, &body(), "application/json").await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert!(media.starts_with("application/json"), "{media}");
    assert_eq!(first["data"], second["data"]);
    let (status, _, _, refused) = send(&gateway, ADMIN_TOKEN, &body(), "text/html").await;
    assert_eq!(status, 406, "{refused}");
}

#[tokio::test]
async fn bytes_another_team_sent_do_not_open_a_trusted_documents_team() {
    let manifest = temp_store_path().with_extension("lane-manifest.json");
    let listed = "{ users { totalCount } }";
    let id: String = Sha256::digest(listed.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    std::fs::write(&manifest, json!({ id: listed }).to_string()).expect("manifest written");
    let gateway = spawn_gateway_with(SimulatorConfig::default(), move |settings| {
        let mut trusted = team(TRUSTED_TOKEN, &["read"]);
        trusted.trusted_documents = Some(manifest);
        trusted.only_trusted_documents = true;
        settings.teams.insert("trusted".to_owned(), trusted);
    })
    .await;
    for _ in 0..3 {
        send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    }
    let (_, cache, _, _) = send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    assert_eq!(cache.as_deref(), Some("hit"));
    let (status, cache, _, refused) = send(&gateway, TRUSTED_TOKEN, &body(), "*/*").await;
    assert_ne!(status, 200, "{refused}");
    assert_eq!(cache, None);
    assert!(refused["data"].is_null(), "{refused}");
}

#[tokio::test]
async fn answers_by_bytes_are_counted_and_follow_writes() {
    let gateway = spawn_gateway().await;
    for _ in 0..3 {
        send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    }
    let count = |page: &str, name: &str, labels: &[&str]| {
        page.lines()
            .filter(|line| line.starts_with(&format!("{name}{{")))
            .find(|line| labels.iter().all(|label| line.contains(label)))
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let labels = [
        "team=\"admin\"",
        "operation=\"LaneProbe\"",
        "outcome=\"ok\"",
    ];
    let before = metrics(&gateway.url).await;
    let (_, cache, _, _) = send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    assert_eq!(cache.as_deref(), Some("hit"));
    let after = metrics(&gateway.url).await;
    let name = "gateway_graphql_requests_total";
    assert_eq!(
        count(&after, name, &labels),
        count(&before, name, &labels) + 1.0
    );
    let hits = |page: &str| count(page, "gateway_response_cache_total", &["result=\"hit\""]);
    assert!(hits(&after) > hits(&before));

    let gone = gateway.devices_by_status(false)[0].clone();
    let removed = gateway
        .gql(
            "mutation($n: [String!]!) { removeComputers(input: { computerNames: $n }) { removedCount } }",
            json!({ "n": [gone] }),
        )
        .await;
    assert_eq!(
        removed["data"]["removeComputers"]["removedCount"], 1,
        "{removed}"
    );
    let (_, cache, _, answer) = send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    assert_eq!(
        cache.as_deref(),
        Some("miss"),
        "a write patched the snapshot"
    );
    assert_eq!(answer["data"]["devices"]["totalCount"], 49);
    let (_, cache, _, _) = send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    assert_eq!(
        cache.as_deref(),
        Some("hit"),
        "kept again from the new snapshot"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

#[tokio::test]
async fn a_query_string_is_answered_by_its_bytes_too() {
    let gateway = spawn_gateway().await;
    let url = format!("{}?query={}", gateway.url, urlencode(QUERY));
    let mut caches = Vec::new();
    for _ in 0..3 {
        let response = gateway
            .http
            .get(&url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("gateway answers");
        let cache = response.headers().get("x-response-cache").cloned();
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
        caches.push(cache.and_then(|value| value.to_str().ok().map(str::to_owned)));
    }
    assert_eq!(caches[2].as_deref(), Some("hit"), "{caches:?}");
}

/// `text` percent-encoded for a query string.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The headers of one POST of `body` from a page at `origin`, and its
/// parsed body.
async fn from_page(gateway: &TestGateway, origin: &str, body: &str) -> (HeaderMap, Value) {
    let response = gateway
        .http
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .header("origin", origin)
        .header("x-request-id", "page-7")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .body(body.to_owned())
        .send()
        .await
        .expect("gateway answers");
    let headers = response.headers().clone();
    (headers, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_hit_answered_ahead_of_the_router_carries_every_header_the_router_adds() {
    let page = "https://helpdesk.example";
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.cors_origins = vec![page.to_owned()];
    })
    .await;
    let (miss, first) = from_page(&gateway, page, &body()).await;
    from_page(&gateway, page, &body()).await;
    let (hit, again) = from_page(&gateway, page, &body()).await;
    let value = |headers: &HeaderMap, name: &str| {
        let values = headers.get_all(name).iter();
        values
            .map(|value| value.to_str().unwrap_or("?").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(value(&miss, "x-response-cache"), ["miss"]);
    assert_eq!(value(&hit, "x-response-cache"), ["hit"]);
    assert_eq!(first["data"], again["data"]);
    let names = |headers: &HeaderMap| {
        let mut names: Vec<String> = headers.keys().map(|name| name.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&hit), names(&miss));
    for name in [
        "access-control-allow-origin",
        "access-control-expose-headers",
        "vary",
        "content-type",
    ] {
        assert_eq!(value(&hit, name), value(&miss, name), "{name}");
    }
    assert_eq!(value(&hit, "access-control-allow-origin"), [page]);
    let traced = |headers: &HeaderMap| value(headers, "traceresponse")[0][..35].to_owned();
    assert_eq!(traced(&hit), "00-0af7651916cd43dd8448eb211c80319c");
    assert_eq!(traced(&miss), traced(&hit));
    let ids = (value(&miss, "x-request-id"), value(&hit, "x-request-id"));
    assert_ne!(ids.0, ids.1, "each request has its own id");
    assert!(ids.1[0].len() == 20 && ids.1[0] != "page-7", "{ids:?}");

    let (elsewhere, _) = from_page(&gateway, "https://other.example", &body()).await;
    assert_eq!(value(&elsewhere, "x-response-cache"), ["hit"]);
    assert!(!elsewhere.contains_key("access-control-allow-origin"));
    let exposed = value(&elsewhere, "access-control-expose-headers");
    assert_eq!(exposed, value(&miss, "access-control-expose-headers"));
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

/// The status, `x-response-cache` and body of `body` sent chunked (no
/// `Content-Length`), as browsers' streaming uploads and some proxies do.
async fn post_chunked(gateway: &TestGateway, body: &str) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = gateway
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let (half, rest) = body.split_at(body.len() / 2);
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{half}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        half.len(),
        rest.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("answered and closed within 10 s")
        .expect("readable");
    let answer = String::from_utf8(answer).expect("UTF-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok());
    let cache = (head.lines())
        .find_map(|line| line.strip_prefix("x-response-cache: "))
        .unwrap_or_default();
    let body = if head.contains("transfer-encoding: chunked") {
        body.split("\r\n").skip(1).step_by(2).collect::<String>()
    } else {
        body.to_owned()
    };
    let parsed = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    (status.unwrap_or_default(), cache.to_owned(), parsed)
}

#[tokio::test]
async fn a_body_sent_without_a_length_takes_the_routers_way_and_is_answered_the_same() {
    let gateway = spawn_gateway().await;
    let mut caches = Vec::new();
    for _ in 0..3 {
        let (status, cache, answer) = post_chunked(&gateway, &body()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
        caches.push(cache);
    }
    assert_eq!(caches, ["miss", "miss", "hit"]);
    let (_, _, chunked) = post_chunked(&gateway, &body()).await;
    let (_, cache, _, with_length) = send(&gateway, ADMIN_TOKEN, &body(), "*/*").await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(with_length["data"], chunked["data"]);
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}
