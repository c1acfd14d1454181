use clap::Args;

use crate::error::ClientError;
use crate::session::Session;

#[derive(Debug, Args)]
pub(crate) struct Post {
    /// Print the stored record as JSON
    #[arg(long)]
    pub json: bool,
}

impl Post {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        // Both addresses first, so that a missing one is reported before any request.
        let (agent, store) = (session.targets.agent()?, session.targets.store()?);
        let snapshot = agent.whoami().await?;
        let stored = store.post(&snapshot).await?;
        session.show_record(self.json, &stored.snapshot, Some(&stored))?;
        Ok(())
    }
}
