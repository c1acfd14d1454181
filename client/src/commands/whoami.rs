use chrono::Utc;
use clap::Args;

use crate::error::ClientError;
use crate::output;
use crate::session::Session;

#[derive(Debug, Args)]
pub struct Whoami {
    /// Print the agent's answer as JSON
    #[arg(long)]
    pub json: bool,
}

impl Whoami {
    pub async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let snapshot = session.targets.agent()?.whoami().await?;
        if self.json {
            output::json(session.out, &snapshot)?;
        } else {
            output::detail(session.out, &snapshot, None, Utc::now(), session.color)?;
        }
        Ok(())
    }
}
