//! `ferry install crds`: the CustomResourceDefinitions of the kinds Ferry serves, for a real
//! cluster (`ferry install crds | kubectl apply --server-side -f -`). `ferry up` serves them
//! itself. The text is the same as `manifests/crds/` in the repository.

use super::stdout;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Print the CRDs as YAML documents. Apply them server-side: the ApplicationSet CRD is
    /// larger than client-side apply's annotation allows, as Argo CD's is.
    Crds,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Crds => {
            let documents: Vec<String> = ferry_api::argocd::crds()
                .iter()
                .map(ferry_api::yaml::to_string)
                .collect();
            stdout::write(&documents.join("---\n"));
        }
    }
    Ok(())
}
