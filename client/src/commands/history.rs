use clap::Args;

use super::{ListForm, page_through};
use crate::error::ClientError;
use crate::output::{HISTORY_COLUMNS, JsonList, Table, history_row};
use crate::session::Session;

#[derive(Debug, Args)]
pub(crate) struct History {
    /// The container: its full ID or a unique prefix (4 hex digits or more)
    #[arg(value_name = "ID")]
    pub id: String,

    /// Show at most N snapshots
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,

    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

impl History {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let store = session.targets.store()?;
        let form = if self.json {
            ListForm::Json(JsonList::default())
        } else {
            ListForm::Table {
                table: Table::new(HISTORY_COLUMNS, session.color),
                row: history_row,
                nothing: "no snapshots",
            }
        };
        let (store, id) = (&store, self.id.as_str());
        page_through(
            session,
            form,
            self.limit.map(|limit| limit as usize),
            |limit, cursor| async move { store.history(id, limit, cursor.as_deref()).await },
        )
        .await
    }
}
