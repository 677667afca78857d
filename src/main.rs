//! The `greenos` binary.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = greenos::cli::Cli::parse();
    match greenos::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("greenos: {err:#}");
            ExitCode::FAILURE
        }
    }
}
