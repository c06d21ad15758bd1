//! Compressed answers: the coding `Accept-Encoding` prefers, `Vary`, the
//! same GraphQL answer once decoded, kept answers compressed once per
//! snapshot version, and the settings that turn it off (event streams:
//! `compression_streams.rs`). Only `a_kept_answer_is_compressed_once…`
//! asks for zstd (it counts zstd compressions in the process's metrics).

use std::io::Read;

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestGateway, metrics, spawn_gateway, spawn_gateway_with};
use crate::raw_lane::urlencode;

const PAGE: &str = "query Page { devices(first: 50) { totalCount edges { cursor node { id name machineId status os osVersion ip comment lastSessionAt } } } }";

/// What one answer came with: its headers and its bytes as sent.
pub(crate) struct Sent {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) bytes: Vec<u8>,
}

impl Sent {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Whether a `Vary` field names `Accept-Encoding`.
    fn varies_by_coding(&self) -> bool {
        (self.headers.get_all("vary").iter())
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
    }

    /// The body decoded from its `Content-Encoding`.
    pub(crate) fn decoded(&self) -> Vec<u8> {
        decode(self.header("content-encoding"), &self.bytes)
    }

    fn json(&self) -> Value {
        let decoded = self.decoded();
        serde_json::from_slice(&decoded)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&decoded)))
    }
}

fn decode(coding: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let read = match coding {
        None => return bytes.to_vec(),
        Some("gzip") => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out),
        Some("br") => brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out),
        Some("zstd") => zstd::stream::read::Decoder::new(bytes)
            .and_then(|mut decoder| decoder.read_to_end(&mut out)),
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    };
    read.unwrap_or_else(|error| panic!("{coding:?} body decodes: {error}"));
    out
}

async fn post(gateway: &TestGateway, accept_encoding: Option<&str>, query: &str) -> Sent {
    let mut request = (gateway.http.post(&gateway.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(json!({ "query": query }).to_string());
    if let Some(value) = accept_encoding {
        request = request.header("accept-encoding", value);
    }
    sent(request).await
}

pub(crate) async fn sent(request: reqwest::RequestBuilder) -> Sent {
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body").to_vec();
    Sent {
        status,
        headers,
        bytes,
    }
}

/// `answer` without what changes between answers of one query:
/// `extensions.cache` (the snapshots' ages) and `extensions.upstream`
/// (only the answer that read RemotePC has it).
fn without_ages(mut answer: Value) -> Value {
    if let Some(extensions) = answer.get_mut("extensions").and_then(Value::as_object_mut) {
        extensions.remove("cache");
        extensions.remove("upstream");
    }
    answer
}

fn compressions(page: &str, coding: &str) -> f64 {
    let series = format!("gateway_compressions_total{{coding=\"{coding}\"}} ");
    (page.lines())
        .find_map(|line| line.strip_prefix(&series)?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

#[tokio::test]
async fn a_page_comes_in_the_coding_asked_for_and_decodes_to_the_same_answer() {
    let gateway = spawn_gateway().await;
    let plain = post(&gateway, None, PAGE).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.varies_by_coding());
    let expected = without_ages(plain.json());
    assert_eq!(expected["data"]["devices"]["totalCount"], 50, "{expected}");
    for (accept, coding) in [
        ("br", "br"),
        ("gzip, deflate, br, zstd", "gzip"),
        ("gzip;q=0.5, br", "br"),
        ("*", "br"),
        ("identity, gzip", "none"),
    ] {
        let sent = post(&gateway, Some(accept), PAGE).await;
        assert_eq!(sent.status, 200, "{accept}");
        assert_eq!(
            sent.header("content-encoding").unwrap_or("none"),
            coding,
            "{accept}"
        );
        assert!(sent.varies_by_coding(), "{accept}");
        assert_eq!(without_ages(sent.json()), expected, "{accept}");
        if coding != "none" {
            // The 50-device page in at most a quarter of its bytes.
            let ratio = sent.bytes.len() as f64 / plain.bytes.len() as f64;
            assert!(
                ratio <= 0.25,
                "{coding}: {} of {} bytes",
                sent.bytes.len(),
                plain.bytes.len()
            );
        }
    }
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

/// Counts compressions in zstd, which no other test of this process asks
/// for: metrics are the process's, and `cargo test` runs tests side by
/// side in one process.
#[tokio::test]
async fn a_kept_answer_is_compressed_once_per_snapshot_version() {
    let gateway = spawn_gateway().await;
    let before = compressions(&metrics(&gateway.url).await, "zstd");
    let mut caches = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..6 {
        let sent = post(&gateway, Some("zstd"), PAGE).await;
        assert_eq!(sent.header("content-encoding"), Some("zstd"));
        caches.push(sent.header("x-response-cache").map(str::to_owned));
        answers.push(without_ages(sent.json()));
    }
    let hits = caches
        .iter()
        .filter(|cache| cache.as_deref() == Some("hit"))
        .count();
    assert_eq!(hits, 4, "kept the second time, then hits: {caches:?}");
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    let after = compressions(&metrics(&gateway.url).await, "zstd");
    // The first two answers were compressed as they were sent; the kept
    // one once, when the second answer was kept; the hits not at all.
    assert_eq!(after - before, 2.0, "{caches:?}");

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
    let fresh = post(&gateway, Some("zstd"), PAGE).await;
    assert_eq!(fresh.header("x-response-cache"), Some("miss"));
    let fresh = fresh.json();
    assert_eq!(fresh["data"]["devices"]["totalCount"], 49, "{fresh}");
    assert!(
        !fresh.to_string().contains(&format!("\"{gone}\"")),
        "{fresh}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

#[tokio::test]
async fn small_answers_go_as_they_are_and_settings_turn_it_off() {
    let gateway = spawn_gateway().await;
    let small = post(&gateway, Some("br"), "{ devices { totalCount } }").await;
    assert_eq!(small.header("content-encoding"), None);
    assert!(small.varies_by_coding());
    assert_eq!(small.json()["data"]["devices"]["totalCount"], 50);

    let off = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.compression = false;
    })
    .await;
    let sent = post(&off, Some("br, gzip"), PAGE).await;
    assert_eq!(sent.header("content-encoding"), None);
    assert!(!sent.varies_by_coding());
    assert_eq!(sent.json()["data"]["devices"]["totalCount"], 50);

    let everything = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.compression_min_bytes = 0;
    })
    .await;
    let tiny = post(&everything, Some("gzip"), "{ devices { totalCount } }").await;
    assert_eq!(tiny.header("content-encoding"), Some("gzip"));
    assert_eq!(tiny.json()["data"]["devices"]["totalCount"], 50);
}

#[tokio::test]
async fn a_client_refusing_every_coding_the_gateway_has_is_told_which_it_has() {
    let gateway = spawn_gateway().await;
    let refused = post(&gateway, Some("deflate, identity;q=0"), PAGE).await;
    assert_eq!(refused.status, 406);
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(
        refused.json(),
        json!({ "errors": [{
            "message": "Accept-Encoding must allow br, zstd, gzip or identity",
            "extensions": { "code": "BAD_USER_INPUT" }
        }] })
    );
    assert_eq!(gateway.calls(Endpoint::ComputerList), 0);
}

#[tokio::test]
async fn a_conditional_get_is_tagged_alike_in_every_coding() {
    let gateway = spawn_gateway().await;
    let url = format!("{}?query={}", gateway.url, urlencode(PAGE));
    let get = |coding: &'static str, tag: Option<String>| {
        let mut request = gateway.http.get(&url).bearer_auth(ADMIN_TOKEN);
        request = request.header("accept-encoding", coding);
        if let Some(tag) = tag {
            request = request.header("if-none-match", tag);
        }
        sent(request)
    };
    let first = get("br", None).await;
    assert_eq!(first.header("content-encoding"), Some("br"));
    let tag = first.header("etag").expect("a tag").to_owned();
    let unchanged = get("gzip", Some(tag.clone())).await;
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.varies_by_coding());
    assert!(unchanged.bytes.is_empty());
    let again = get("gzip", None).await;
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    assert_eq!(without_ages(again.json()), without_ages(first.json()));
}

#[tokio::test]
async fn the_schema_and_graphiql_are_compressed_too() {
    let gateway = spawn_gateway().await;
    let base = gateway.url.trim_end_matches("/graphql").to_owned();
    let schema = sent(
        (gateway.http.get(format!("{base}/schema.graphql")))
            .bearer_auth(ADMIN_TOKEN)
            .header("accept-encoding", "br"),
    )
    .await;
    assert_eq!(schema.header("content-encoding"), Some("br"));
    assert!(schema.varies_by_coding());
    let sdl = std::fs::read_to_string("schema.graphql").expect("schema.graphql");
    assert_eq!(String::from_utf8(schema.decoded()).expect("UTF-8"), sdl);
    let script = std::fs::read("assets/graphiql/graphiql.min.js").expect("GraphiQL's script");
    for coding in ["gzip", "br", "gzip"] {
        let url = format!("{base}/graphiql/graphiql.min.js");
        let sent = sent(gateway.http.get(url).header("accept-encoding", coding)).await;
        assert_eq!(sent.status, 200);
        assert_eq!(sent.header("content-encoding"), Some(coding));
        assert!(sent.varies_by_coding());
        assert!(
            sent.bytes.len() * 3 < script.len(),
            "{coding}: {} bytes",
            sent.bytes.len()
        );
        assert!(sent.decoded() == script, "{coding}: decodes to the script");
    }
}

#[tokio::test]
async fn a_large_answer_is_compressed_a_piece_at_a_time() {
    let config = SimulatorConfig {
        devices: 1_000,
        ..SimulatorConfig::default()
    };
    let gateway = spawn_gateway_with(config, |_| {}).await;
    // `groups` reads the store: executed, not kept, over 256 KiB.
    let page = "edges { cursor node { id name machineId status os osVersion ip comment lastSessionAt lastSessionRaw } }";
    let query = format!(
        "{{ groups {{ name }} a: devices(first: 500) {{ {page} }} b: devices(first: 500, orderBy: {{ field: NAME, direction: DESC }}) {{ {page} }} }}"
    );
    let plain = post(&gateway, None, &query).await;
    assert!(
        plain.bytes.len() > 256 * 1024,
        "{} bytes",
        plain.bytes.len()
    );
    for coding in ["br", "gzip"] {
        let sent = post(&gateway, Some(coding), &query).await;
        assert_eq!(sent.header("content-encoding"), Some(coding));
        assert_eq!(
            sent.header("content-length"),
            None,
            "sent as it is compressed"
        );
        assert!(
            sent.bytes.len() * 4 < plain.bytes.len(),
            "{coding}: {}",
            sent.bytes.len()
        );
        assert_eq!(
            without_ages(sent.json()),
            without_ages(plain.json()),
            "{coding}"
        );
    }
}
