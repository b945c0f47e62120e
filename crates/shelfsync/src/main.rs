//! The `shelfsync` binary: one program, several roles (see `shelfsync --help`).

mod commands;
mod config;
mod telemetry;

use clap::Parser;

use crate::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.global.log_format);
    // One TLS provider for every crate that speaks TLS (see docs/architecture.md).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command {
        Command::Serve(opts) => {
            commands::serve::run(&cli.global, opts, commands::serve::Role::Serve, None).await
        }
        Command::Api(opts) => {
            commands::serve::run(&cli.global, opts, commands::serve::Role::Api, None).await
        }
        Command::Demo(opts) => commands::demo::run(&cli.global, opts).await,
        Command::Worker(opts) => commands::worker::run(&cli.global, opts).await,
        Command::Queue => commands::queue::run(&cli.global).await,
        Command::Migrate => commands::migrate::run(&cli.global).await,
        Command::Import(opts) => commands::import::run(&cli.global, opts).await,
        Command::Export(opts) => commands::export::run(&cli.global, opts).await,
        Command::Keys(cmd) => commands::keys::run(&cli.global, cmd).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
