use clap::Args;

use crate::error::ClientError;
use crate::session::Session;

#[derive(Debug, Args)]
pub(crate) struct Whoami {
    /// Print the agent's answer as JSON
    #[arg(long)]
    pub json: bool,
}

impl Whoami {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let snapshot = session.targets.agent()?.whoami().await?;
        session.show_record(self.json, &snapshot, None)?;
        Ok(())
    }
}
