//! `--demo` (a module of the binary, not of the library): the built-in
//! simulator with sample data, two sample teams, and the gateway in front.
//! Its folder keeps the store and the teams' tokens across restarts, so a
//! frontend's `.env.local` stays valid; `--demo-reset` starts afresh.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use remotepc_gateway::App;
use remotepc_gateway::auth::{generate_token, hash_token};
use remotepc_gateway::settings::{
    AccountSettings, OidcSettings, OtelSettings, RoleSettings, SCOPES, Settings, StoreSettings,
    TeamSettings,
};

use crate::demo_issuer::{DEMO_AUDIENCE, DEMO_ROLE, DemoIssuer};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::telemetry;
use serde::{Deserialize, Serialize};

/// What `--demo` was asked for on the command line.
pub(crate) struct DemoArgs {
    pub(crate) config: Option<PathBuf>,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) reset: bool,
}

/// The demo's teams may make this many requests a minute, and this many at
/// once: a person with GraphiQL, a codegen tool or a fuzzer never meets
/// the quota (production teams keep theirs).
const DEMO_REQUESTS_PER_MINUTE: u32 = 1_000_000;
const DEMO_BURST: u32 = 100_000;

/// The sample teams' tokens, kept in the demo's folder.
#[derive(Serialize, Deserialize)]
struct DemoTokens {
    viewer: String,
    admin: String,
}

pub(crate) async fn run(
    args: DemoArgs,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut settings = Settings::layered(
        Some(include_str!("../config/demo.toml")),
        args.config.as_deref(),
    )?;
    if let Some(listen) = args.listen {
        settings.server.listen = listen;
    }
    // The demo logs only; point a real deployment's `[otel]` at a collector.
    let (lines, _written_at_exit) = telemetry::stdout_lines()?;
    let _no_export = telemetry::init(&settings.log, &OtelSettings::default(), lines);
    let dir = demo_dir(args.dir)?;
    if args.reset {
        reset(&dir)?;
    }
    let tokens = tokens(&dir)?;
    let api_key = Alphanumeric.sample_string(&mut rand::rng(), 32);
    let simulator = Simulator::start(SimulatorConfig {
        api_key: api_key.clone(),
        users: settings.demo.users,
        devices: settings.demo.devices,
        latency: settings.demo.latency,
        ..SimulatorConfig::default()
    })
    .await
    .context("cannot start the simulator")?;
    if settings.demo.churn_changes > 0 && !settings.demo.churn_interval.is_zero() {
        simulator.churn_every(settings.demo.churn_interval, settings.demo.churn_changes);
    }
    settings.accounts.insert(
        "default".to_owned(),
        AccountSettings::with_inline_key(&simulator.base_url(), &api_key),
    );
    add_teams(&mut settings, &tokens);
    let issuer = DemoIssuer::start().await?;
    trust_demo_issuer(&mut settings, &issuer);
    let person_token = issuer.person_token(12)?;
    if settings.store.url == StoreSettings::default().url {
        let store = dir.join("demo.db");
        settings.store.url = format!("sqlite://{}?mode=rwc", store.display());
    }
    let loopback_dev = settings.server.cors_allow_loopback_dev;
    let app = App::build(settings).await?;
    let base = format!("http://{}", app.addr());
    println!(
        "\nremotepc-gateway demo\n  GraphQL:   {base}/graphql  (POST or GET)\n  GraphiQL:  {base}/graphiql  (paste a token in its bar)\n  schema:    {base}/schema.graphql  (for codegen; same token)\n  MCP:       {base}/mcp  (assistants; same tokens; destructive tools ask the person at {base}/approve/<id>)\n  simulator: {} ({} users, {} devices)\n  store:     {}  (tokens kept across restarts; --demo-reset for new ones)\n  teams:     viewer (read)      token {}\n             admin  (all scopes) token {}\n             quota {DEMO_REQUESTS_PER_MINUTE} requests a minute, burst {DEMO_BURST}: tools and fuzzers will not run out\n  person:    Dana Demo, signed in through the demo's identity provider {} (role demo/{DEMO_ROLE}, 12 h)\n             token {}\n  CORS:      {}\n\nTry:\n  curl -s {base}/graphql -H 'content-type: application/json' -H 'authorization: Bearer {}' \\\n    -d '{{\"query\":\"{{ devices(first: 3) {{ totalCount edges {{ node {{ id name status os lastSessionAt }} }} }} }}\"}}'\n",
        simulator.base_url(),
        simulator.state(|state| state.users().count()),
        simulator.state(|state| state.devices().count()),
        dir.display(),
        tokens.viewer,
        tokens.admin,
        issuer.url,
        person_token,
        if loopback_dev {
            "pages at http://localhost:<any port> and http://127.0.0.1:<any port> may call it (demo only; elsewhere list origins in server.cors_origins)"
        } else {
            "only origins listed in server.cors_origins"
        },
        tokens.viewer,
    );
    app.run_until_stopped(stopped).await?;
    drop(issuer);
    drop(simulator);
    Ok(())
}

/// People signed in through the demo's issuer may do what `admin` may.
fn trust_demo_issuer(settings: &mut Settings, issuer: &DemoIssuer) {
    let role = RoleSettings {
        scopes: SCOPES.iter().map(|scope| (*scope).to_owned()).collect(),
        account: "default".to_owned(),
        requests_per_minute: DEMO_REQUESTS_PER_MINUTE,
        burst: DEMO_BURST,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: 1,
    };
    let provider = OidcSettings {
        algorithms: vec!["ES256".to_owned()],
        roles_claim: "groups".to_owned(),
        roles: [(DEMO_ROLE.to_owned(), role)].into(),
        ..OidcSettings::new(&issuer.url, &[DEMO_AUDIENCE])
    };
    settings.auth.oidc.insert("demo".to_owned(), provider);
    // The approval page signs Dana in through the demo issuer.
    settings.mcp.sign_in_provider = Some("demo".to_owned());
    settings.mcp.sign_in_client_id = Some(DEMO_AUDIENCE.to_owned());
}

fn add_teams(settings: &mut Settings, tokens: &DemoTokens) {
    for (team, token, scopes) in [
        ("viewer", &tokens.viewer, &SCOPES[..1]),
        ("admin", &tokens.admin, &SCOPES[..]),
    ] {
        settings.teams.insert(
            team.to_owned(),
            TeamSettings {
                token_sha256: hash_token(token),
                scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
                account: "default".to_owned(),
                requests_per_minute: DEMO_REQUESTS_PER_MINUTE,
                burst: DEMO_BURST,
                introspection: true,
                trusted_documents: None,
                only_trusted_documents: false,
                upstream_weight: 1,
            },
        );
    }
}

/// `--demo-dir`, else `$XDG_DATA_HOME/remotepc-gateway/demo`, else
/// `~/.local/share/remotepc-gateway/demo`: a folder of the user's own,
/// not the shared temp folder, where another user could plant a file or a
/// link first. Created readable by its owner only.
fn demo_dir(asked: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match asked {
        Some(dir) => dir,
        None => std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
            .context("no HOME or XDG_DATA_HOME to keep the demo's data in; pass --demo-dir")?
            .join("remotepc-gateway/demo"),
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("cannot create the demo's folder {}", dir.display()))?;
    let found = std::fs::symlink_metadata(&dir)
        .with_context(|| format!("cannot read the demo's folder {}", dir.display()))?;
    anyhow::ensure!(
        found.is_dir(),
        "{} is not a folder (a link?); pass --demo-dir",
        dir.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(dir)
}

/// Forgets the tokens and the store, for `--demo-reset`.
fn reset(dir: &Path) -> anyhow::Result<()> {
    for name in ["tokens.json", "demo.db", "demo.db-wal", "demo.db-shm"] {
        match std::fs::remove_file(dir.join(name)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).with_context(|| format!("cannot remove {name}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The tokens kept in `dir`, or new ones, written there (mode 0600).
fn tokens(dir: &Path) -> anyhow::Result<DemoTokens> {
    let path = dir.join("tokens.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(tokens) = serde_json::from_str::<DemoTokens>(&text)
    {
        return Ok(tokens);
    }
    let tokens = DemoTokens {
        viewer: generate_token(),
        admin: generate_token(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, serde_json::to_string_pretty(&tokens)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(tokens)
}
