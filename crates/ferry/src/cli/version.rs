//! `ferry version`: this binary's version, and the server's when one is reachable.

use super::Target;
use crate::kubeclient;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only print the client version.
    #[arg(long)]
    client: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    println!("Client Version: ferry {}", env!("CARGO_PKG_VERSION"));
    if args.client {
        return Ok(());
    }
    let (client, _) = kubeclient::connect(args.target.kubeconfig.as_deref()).await?;
    match client.apiserver_version().await {
        Ok(v) => println!("Server Version: {}", v.git_version),
        Err(e) => anyhow::bail!("cannot reach the server: {e}"),
    }
    Ok(())
}
