use super::*;

fn parse(toml: &str) -> Result<Settings, config::ConfigError> {
    config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()?
        .try_deserialize()
}

#[test]
fn default_toml_documents_the_built_in_defaults() {
    let documented = parse(include_str!("../../config/default.toml")).expect("default.toml parses");
    let built_in = Settings::default();
    assert_eq!(documented.server, built_in.server);
    assert_eq!(documented.graphql, built_in.graphql);
    assert_eq!(documented.upstream, built_in.upstream);
    assert_eq!(documented.cache, built_in.cache);
    assert_eq!(documented.store, built_in.store);
    assert!(documented.teams.is_empty());
    assert_eq!(documented.log, built_in.log);
    assert_eq!(documented.demo, built_in.demo);
    assert_eq!(documented.otel, built_in.otel);
    assert!(documented.accounts.is_empty());
}

#[test]
fn example_configs_parse() {
    for toml in [
        include_str!("../../config/demo.toml"),
        include_str!("../../config/production.example.toml"),
    ] {
        parse(toml).expect("example parses");
    }
}

#[test]
fn the_production_example_does_not_start_until_its_placeholders_are_replaced() {
    let example = include_str!("../../config/production.example.toml");
    let error = parse(example)
        .expect("parses")
        .validate()
        .expect_err("placeholders refused")
        .to_string();
    assert!(error.contains("teams.helpdesk.token_sha256"), "{error}");
    let filled = example
        .replace(
            "REPLACE-WITH-THE-HASH-PRINTED-BY-hash-token",
            &"1".repeat(64),
        )
        .replace(
            "REPLACE-WITH-ANOTHER-HASH-PRINTED-BY-hash-token",
            &"2".repeat(64),
        );
    parse(&filled)
        .expect("parses")
        .validate()
        .expect("valid once filled in");
}

#[test]
fn hashes_of_guessable_tokens_are_refused() {
    for token in [
        "test",
        "test2",
        "Admin1",
        "changeme",
        "1234",
        "secret123",
        "s3cr3t",
        "p4ssw0rd",
        "4dm1n",
    ] {
        let hash = crate::digest::sha256_hex(token.as_bytes());
        let toml = format!(
            "[accounts.default]\napi_key_env = \"K\"\n[teams.ops]\nscopes = [\"read\"]\ntoken_sha256 = \"{hash}\"\n"
        );
        let error = parse(&toml)
            .expect("parses")
            .validate()
            .expect_err("guessable")
            .to_string();
        assert!(error.contains("guessable token"), "{token}: {error}");
    }
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let account = |url: &str| {
        format!(
            "[accounts.default]\nbase_url = \"{url}\"\napi_key_env = \"K\"\n[teams.ops]\nscopes = [\"read\"]\ntoken_sha256 = \"{}\"\n",
            "a".repeat(64)
        )
    };
    for refused in ["http://web1.remotepc.com/api/", "http://10.0.0.8/api/"] {
        let error = parse(&account(refused))
            .expect("parses")
            .validate()
            .expect_err("plain http")
            .to_string();
        assert!(error.contains("accounts.default.base_url"), "{error}");
    }
    for allowed in [
        "http://127.0.0.1:9090/api/",
        "http://localhost:1/",
        "http://[::1]:2/",
        "https://web1.remotepc.com/rpcnew/api/msp/",
    ] {
        parse(&account(allowed))
            .expect("parses")
            .validate()
            .unwrap_or_else(|error| panic!("{allowed}: {error}"));
    }
}

#[test]
fn the_request_timeout_leaves_room_for_an_upstream_call() {
    let mut settings = parse(&format!(
        "[accounts.default]\napi_key_env = \"K\"\n[teams.ops]\nscopes = [\"read\"]\ntoken_sha256 = \"{}\"\n",
        "a".repeat(64)
    ))
    .expect("parses");
    settings.validate().expect("defaults leave room");
    settings.server.request_timeout = settings.upstream.request_timeout;
    let error = settings.validate().expect_err("no room").to_string();
    assert!(error.contains("server.request_timeout"), "{error}");
}

#[test]
fn team_settings_are_checked() {
    let base = "[accounts.default]\napi_key_env = \"K\"\n[teams.ops]\nscopes = [\"read\"]\n";
    let bad_hash = parse(&format!("{base}token_sha256 = \"abc\"\n")).expect("parses");
    let error = bad_hash.validate().expect_err("refused").to_string();
    assert!(error.contains("teams.ops.token_sha256"), "{error}");
    let hash = "a".repeat(64);
    let bad_scope = parse(&base.replace("\"read\"", "\"admin\"").replace(
        "[teams.ops]\n",
        &format!("[teams.ops]\ntoken_sha256 = \"{hash}\"\n"),
    ))
    .expect("parses");
    let error = bad_scope.validate().expect_err("refused").to_string();
    assert!(error.contains("unknown scope `admin`"), "{error}");
}

#[test]
fn account_without_key_source_names_the_setting() {
    let settings =
        parse("[accounts.default]\nbase_url = \"http://127.0.0.1:1/\"\n").expect("parses");
    let error = settings
        .validate()
        .expect_err("must be refused")
        .to_string();
    assert!(error.contains("accounts.default.api_key_env"), "{error}");
}

#[test]
fn unknown_keys_are_refused() {
    let error = parse("[server]\nlisten_addr = \"127.0.0.1:1\"\n").expect_err("unknown key");
    assert!(error.to_string().contains("listen_addr"), "{error}");
}

#[test]
fn no_account_is_refused() {
    let error = Settings::default()
        .validate()
        .expect_err("no account")
        .to_string();
    assert!(error.contains("`accounts`"), "{error}");
}

#[test]
fn standard_otel_variables_fill_what_the_settings_leave_unset() {
    let variables = |name: &str| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_owned()),
        "OTEL_SERVICE_NAME" => Some("helpdesk-gateway".to_owned()),
        "OTEL_TRACES_SAMPLER_ARG" => Some("0.25".to_owned()),
        _ => None,
    };
    let filled = OtelSettings::default().with_standard_variables(variables);
    assert_eq!(filled.endpoint.as_deref(), Some("http://collector:4318"));
    assert_eq!(filled.service_name, "helpdesk-gateway");
    assert_eq!(filled.sampling_ratio, 0.25);
    assert_eq!(
        filled.traces_url().as_deref(),
        Some("http://collector:4318/v1/traces")
    );
    let chosen = OtelSettings {
        endpoint: Some("https://tempo.example.com/v1/traces".to_owned()),
        sampling_ratio: 0.5,
        ..OtelSettings::default()
    }
    .with_standard_variables(variables);
    assert_eq!(
        chosen.traces_url().as_deref(),
        Some("https://tempo.example.com/v1/traces")
    );
    assert_eq!(
        chosen.sampling_ratio, 0.5,
        "a setting wins over the variable"
    );
    assert_eq!(OtelSettings::default().traces_url(), None, "off by default");
    let switched_off = OtelSettings {
        endpoint: Some(String::new()),
        ..OtelSettings::default()
    }
    .with_standard_variables(variables);
    assert_eq!(
        switched_off.traces_url(),
        None,
        "GATEWAY__OTEL__ENDPOINT= switches export off, over OTEL_EXPORTER_OTLP_ENDPOINT"
    );
    assert!(switched_off.validate().is_ok());
}

#[test]
fn otel_settings_are_checked_naming_the_key() {
    for (otel, key) in [
        (
            OtelSettings {
                sampling_ratio: 1.5,
                ..OtelSettings::default()
            },
            "otel.sampling_ratio",
        ),
        (
            OtelSettings {
                endpoint: Some("collector:4318".to_owned()),
                ..OtelSettings::default()
            },
            "otel.endpoint",
        ),
        (
            OtelSettings {
                protocol: "grpc".to_owned(),
                ..OtelSettings::default()
            },
            "otel.protocol",
        ),
    ] {
        let error = otel.validate().expect_err("refused");
        assert!(error.to_string().contains(key), "{error}");
    }
}
