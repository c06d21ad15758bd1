//! The `remotepc-gateway` binary: parses arguments, loads settings, sets up
//! logging and serves until SIGTERM or Ctrl-C. Everything else is `App`;
//! `demo` and `demo_issuer` (the binary's own modules) wire the sample
//! setup.

mod demo;
mod demo_issuer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use remotepc_gateway::auth::{generate_token, hash_token};
use remotepc_gateway::settings::Settings;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::{App, telemetry};

// A GraphQL response is thousands of small allocations; glibc's malloc was a
// sixth of the CPU profile under load. Its background thread (Cargo.toml)
// returns what load freed once the process is idle.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// GraphQL gateway in front of the RemotePC Enterprise MSP API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file, layered over the defaults (see config/default.toml).
    #[arg(long, global = true, env = "GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Start the built-in simulator with sample data and serve it.
    #[arg(long)]
    demo: bool,
    /// The demo's folder (store and team tokens, kept across restarts).
    /// Default: $XDG_DATA_HOME/remotepc-gateway/demo.
    #[arg(long, requires = "demo")]
    demo_dir: Option<PathBuf>,
    /// Give the demo new team tokens and an empty store.
    #[arg(long, requires = "demo")]
    demo_reset: bool,
    /// Listen address, overriding server.listen.
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway (the default).
    Serve,
    /// Run the RemotePC simulator alone.
    Simulate(SimulateArgs),
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    PrintSchema,
    /// Print the SHA-256 to put in teams.<name>.token_sha256: of a new
    /// random token, printed too; with `-`, of the token read from standard
    /// input (never an argument, which `ps` shows to everyone).
    HashToken {
        /// `-`: read the token from standard input (its first line).
        source: Option<String>,
    },
    /// Exit 0 when GET URL answers 2xx within 3 s (the container
    /// HEALTHCHECK; the runtime image has no curl).
    Healthcheck {
        /// The URL to probe.
        #[arg(default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 9090)]
    port: u16,
    /// Users to seed.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Devices to seed.
    #[arg(long, default_value_t = 1_000)]
    devices: usize,
    /// The API key it accepts.
    #[arg(long, env = "SIMULATOR_API_KEY", default_value = "simulator-api-key")]
    api_key: String,
    /// Delay added to every call, e.g. 20ms.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0ms")]
    latency: Duration,
    /// Fraction of calls (0–1) answered with a 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", report(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each said once (an error whose
/// message already holds its cause's is not followed by it again), and
/// no backtrace: a start refused for a setting is a message, not a crash.
fn report(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::PrintSchema) => {
            print!("{}", remotepc_gateway::graphql::sdl());
            Ok(())
        }
        Some(Command::HashToken { source }) => {
            match source.as_deref() {
                Some("-") => println!("{}", hash_token(&token_from_stdin()?)),
                Some(_) => anyhow::bail!(
                    "hash-token takes the token on standard input, not as an argument (ps shows arguments to everyone): printf %s \"$TOKEN\" | remotepc-gateway hash-token -"
                ),
                None => {
                    let token = generate_token();
                    println!(
                        "token:        {token}\ntoken_sha256: {}",
                        hash_token(&token)
                    );
                }
            }
            Ok(())
        }
        Some(Command::Simulate(args)) => simulate(args).await,
        Some(Command::Healthcheck { url }) => {
            let response = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?
                .get(&url)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{url} answered {}",
                response.status()
            );
            Ok(())
        }
        Some(Command::Serve) | None if cli.demo => {
            let args = demo::DemoArgs {
                config: cli.config,
                listen: cli.listen,
                dir: cli.demo_dir,
                reset: cli.demo_reset,
            };
            demo::run(args, shutdown_signal()).await
        }
        Some(Command::Serve) | None => serve(cli.config, cli.listen).await,
    }
}

async fn serve(config: Option<PathBuf>, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let mut settings = Settings::load(config.as_deref())?;
    if let Some(listen) = listen {
        settings.server.listen = listen;
    }
    let (lines, _written_at_exit) = telemetry::stdout_lines()?;
    let export =
        telemetry::init(&settings.log, &settings.otel, lines).map_err(anyhow::Error::msg)?;
    let app = App::build(settings).await?;
    tracing::info!(addr = %app.addr(), "listening");
    app.run_until_stopped(shutdown_signal()).await?;
    if let Some(export) = export {
        export.shutdown().await;
    }
    Ok(())
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let simulator = Simulator::start(SimulatorConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        api_key: args.api_key,
        users: args.users,
        devices: args.devices,
        latency: args.latency,
        error_rate: args.error_rate,
        ..SimulatorConfig::default()
    })
    .await
    .context("cannot start the simulator")?;
    println!("RemotePC simulator at {}", simulator.base_url());
    shutdown_signal().await;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// The first line of standard input, without its line ending; refused
/// when empty.
fn token_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let token = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!token.is_empty(), "no token on standard input");
    Ok(token.to_owned())
}
