//! GraphiQL is served whole by the gateway: no asset comes from elsewhere.

use crate::helpers::spawn_gateway;

#[tokio::test]
async fn graphiql_and_every_asset_it_loads_come_from_the_gateway() {
    let gateway = spawn_gateway().await;
    let base = gateway.url.trim_end_matches("/graphql").to_owned();
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{base}/graphiql"))
        .send()
        .await
        .expect("answered");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    let html = page.text().await.expect("text");
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("\"//"),
        "{html}"
    );

    let references: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/graphiql/"))
        .collect();
    assert_eq!(references.len(), 5, "{references:?}");
    for reference in references.into_iter().chain([
        "/graphiql/LICENSE-graphiql.txt",
        "/graphiql/LICENSE-react.txt",
    ]) {
        let asset = client
            .get(format!("{base}{reference}"))
            .send()
            .await
            .expect("answered");
        assert_eq!(asset.status(), 200, "{reference}");
        let bytes = asset.bytes().await.expect("bytes");
        assert!(!bytes.is_empty(), "{reference}");
    }
    let script = client
        .get(format!("{base}/graphiql/start.js"))
        .send()
        .await
        .expect("answered");
    assert!(
        script
            .text()
            .await
            .expect("text")
            .contains("url: '/graphql'")
    );

    let home = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{base}/"))
        .send()
        .await
        .expect("answered");
    assert_eq!(home.headers()["location"], "/graphiql");
    let missing = client
        .get(format!("{base}/graphiql/nope.js"))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn graphiql_cannot_be_framed_nor_run_foreign_scripts() {
    let gateway = spawn_gateway().await;
    let page = reqwest::get(gateway.url.replace("/graphql", "/graphiql"))
        .await
        .expect("answered");
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let policy = header("content-security-policy");
    for directive in [
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert_eq!(header("x-frame-options"), "DENY");
    let html = page.text().await.expect("text");
    assert!(
        html.contains("<form id=\"bar\">") && html.contains("type=\"submit\""),
        "the token bar is a form, so Enter applies the token"
    );
}

#[tokio::test]
async fn the_favicon_is_an_empty_answer_not_an_error() {
    let gateway = spawn_gateway().await;
    let answer = reqwest::get(gateway.url.replace("/graphql", "/favicon.ico"))
        .await
        .expect("answered");
    assert_eq!(answer.status(), 204);
    assert_eq!(answer.headers()["cache-control"], "public, max-age=86400");
    assert!(answer.bytes().await.expect("body").is_empty());
}
