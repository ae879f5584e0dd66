//! `ferry`: GitOps delivery and promotion in one binary. This crate is wiring only: argument
//! parsing and one module per subcommand under `cli/`; the work happens in the library crates.

mod cli;
mod datadir;
mod kubeclient;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // One TLS provider for the server and every client (kube, later registries and git).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Each cause once: Ferry's errors already spell out the errors they wrap.
            let error: &(dyn std::error::Error + 'static) = e.as_ref();
            eprintln!("error: {}", ferry_api::error::full_message(error));
            std::process::ExitCode::FAILURE
        }
    }
}
