//! The docs cannot drift from the gateway: every GraphQL block and every
//! `curl` example in `README.md` and `docs/` runs against a gateway on the
//! simulator and must pass the specification's validation (and, for the
//! curl examples, answer as the text says); every `cargo run` example's
//! subcommand and flags are accepted by the binary.

use serde_json::{Value, json};

use crate::helpers::spawn_gateway;

/// Each fenced block of `language` in the README and the docs, with the
/// file it is in.
fn blocks(language: &str) -> Vec<(String, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files = vec![format!("{root}/README.md")];
    let mut docs: Vec<String> = std::fs::read_dir(format!("{root}/docs"))
        .expect("docs/")
        .filter_map(|entry| Some(entry.ok()?.path().display().to_string()))
        .filter(|path| path.ends_with(".md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let fence = format!("```{language}\n");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&fence) {
            let body = &rest[start + fence.len()..];
            let end = body.find("```").expect("a closed block");
            found.push((file.clone(), body[..end].to_owned()));
            rest = &body[end..];
            rest = rest.get(3..).unwrap_or_default();
        }
    }
    found
}

/// Errors that mean the document is not valid GraphQL for this schema.
fn invalid(answer: &Value) -> Vec<&Value> {
    answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|error| {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            code.starts_with("GRAPHQL_") || code == "BAD_USER_INPUT"
        })
        .collect()
}

#[tokio::test]
async fn every_graphql_block_in_the_docs_is_valid_for_the_served_schema() {
    let gateway = spawn_gateway().await;
    let found = blocks("graphql");
    assert!(
        found.len() >= 5,
        "the docs' GraphQL blocks: {}",
        found.len()
    );
    for (file, document) in found {
        let answer = gateway.gql(&document, json!({})).await;
        if document.trim_start().starts_with("subscription") {
            // Over POST, a subscription that passed validation is refused
            // for its transport only.
            let only = "Subscriptions are not supported on this transport.";
            assert_eq!(
                answer["errors"],
                json!([{ "message": only, "extensions": { "code": "BAD_USER_INPUT" } }]),
                "{file}: {document}"
            );
            continue;
        }
        assert!(
            invalid(&answer).is_empty(),
            "{file}: {document}\n→ {answer}"
        );
        assert!(answer["data"].is_object(), "{file}: {document}\n→ {answer}");
    }
}

/// `-d '…'` of a curl line: the request body.
fn curl_body(block: &str) -> Option<Value> {
    let start = block.find("-d '")? + 4;
    let end = block[start..].find('\'')? + start;
    serde_json::from_str(&block[start..end].replace('\n', " ")).ok()
}

#[tokio::test]
async fn every_curl_example_answers_as_the_docs_say() {
    let gateway = spawn_gateway().await;
    let mut ran = 0;
    for (file, block) in blocks("sh") {
        let Some(body) = curl_body(&block) else {
            continue;
        };
        let query = body["query"].as_str().expect("a query").to_owned();
        let answer = gateway.gql(&query, body["variables"].clone()).await;
        ran += 1;
        match block.find("# → extensions: { code: \"") {
            Some(at) => {
                let said = block[at..].split('"').nth(1).expect("a code");
                assert_eq!(
                    answer["errors"][0]["extensions"]["code"], said,
                    "{file}: {answer}"
                );
            }
            None => {
                assert!(answer["errors"].is_null(), "{file}: {query}\n→ {answer}");
            }
        }
    }
    assert!(ran >= 3, "the curl examples run: {ran}");
}

#[test]
fn every_cargo_run_example_names_a_subcommand_and_flags_the_binary_takes() {
    let mut checked = 0;
    for (file, block) in blocks("sh") {
        for line in block.lines() {
            let Some((_, rest)) = line.split_once("cargo run --release -- ") else {
                continue;
            };
            let command = rest.split('#').next().unwrap_or_default();
            let mut args: Vec<&str> = command.split_whitespace().collect();
            args.push("--help");
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_remotepc-gateway"))
                .args(&args)
                .output()
                .expect("the binary runs");
            assert!(
                output.status.success(),
                "{file}: `{line}` is not accepted: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "the cargo run examples: {checked}");
}
