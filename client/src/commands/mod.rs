//! The commands, one module each; the same ones run one-shot and at the prompt.

pub(crate) mod get;
pub(crate) mod history;
pub(crate) mod nodes;
pub mod ping;
pub(crate) mod post;
pub(crate) mod whoami;

use std::future::Future;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use container_info_wire::{Page, StoredSnapshot};

use crate::error::ClientError;
use crate::output::{Cell, JsonList, Table};
use crate::session::Session;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Ask the agent who this container is, post that to the store, and show what was stored
    Post(post::Post),
    /// List the containers the store holds (latest record of each), or show one by ID
    Get(get::Get),
    /// Show a container's snapshots as the store kept them, newest first
    History(history::History),
    /// List the nodes whose agents report to the store, stale ones marked, or show one by name
    Nodes(nodes::Nodes),
    /// Show what the agent says about this container, without posting it
    Whoami(whoami::Whoami),
    /// Check the agent and every store replica, one line each
    Ping(ping::Ping),
}

impl Command {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        match self {
            Self::Post(command) => command.run(session).await,
            Self::Get(command) => command.run(session).await,
            Self::History(command) => command.run(session).await,
            Self::Nodes(command) => command.run(session).await,
            Self::Whoami(command) => command.run(session).await,
            Self::Ping(command) => command.run(session).await,
        }
    }
}

/// How a list is shown: a table with one row per record, or a JSON array.
pub(crate) enum ListForm {
    Table {
        table: Table,
        row: fn(&StoredSnapshot, DateTime<Utc>) -> Vec<Cell>,
        /// Said instead of an empty table.
        nothing: &'static str,
    },
    Json(JsonList),
}

/// Shows a list page by page as the store's cursor gives it, asking the session
/// before each further page, until the end or `limit` records.
pub(crate) async fn page_through<F, Fut>(
    session: &mut Session<'_>,
    mut form: ListForm,
    limit: Option<usize>,
    mut fetch: F,
) -> Result<(), ClientError>
where
    F: FnMut(usize, Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<StoredSnapshot>, ClientError>>,
{
    let mut remaining = limit.unwrap_or(usize::MAX);
    let mut cursor = None;
    loop {
        let page = fetch(session.page_size.min(remaining), cursor.take()).await?;
        remaining = remaining.saturating_sub(page.items.len());
        match &mut form {
            ListForm::Table { table, row, .. } => {
                let now = Utc::now();
                let rows = page.items.iter().map(|item| row(item, now)).collect();
                table.print(session.out, rows)?;
            }
            ListForm::Json(list) => list.items(session.out, &page.items)?,
        }
        session.out.flush()?;
        match page.next_cursor {
            Some(next) if remaining > 0 && (session.more)() => cursor = Some(next),
            _ => break,
        }
    }
    match form {
        ListForm::Table { table, nothing, .. } if table.rows_printed() == 0 => {
            writeln!(session.out, "{nothing}")?;
        }
        ListForm::Table { .. } => {}
        ListForm::Json(list) => list.finish(session.out)?,
    }
    Ok(())
}
