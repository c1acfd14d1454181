use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use container_info_wire::ContainerState;
use container_info_wire::nodes::NodeStatus;

use super::nodes::node_status_parser;
use super::{ListForm, page_through};
use crate::error::ClientError;
use crate::output::{CONTAINER_COLUMNS, JsonList, Table, container_row};
use crate::session::Session;
use crate::store::Filter;

const AFTER_HELP: &str = "\
The store leaves removed containers out of the list: `--state removed` lists them.
A container whose node's agent stopped reporting stays listed as last reported,
its NODE marked (stale); `nodes` tells more.";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Get {
    /// Show only this container: its full ID or a unique prefix (4 hex digits or more)
    #[arg(value_name = "ID")]
    pub id: Option<String>,

    /// Only containers on this node (host name; `nodes` lists them)
    #[arg(long, conflicts_with = "id")]
    pub node: Option<String>,

    /// Only containers on nodes whose agent still reports (up), or has
    /// stopped (stale)
    #[arg(long, value_name = "STATUS", value_parser = node_status_parser(), conflicts_with = "id")]
    pub node_status: Option<NodeStatus>,

    /// Only the tasks of this Swarm service, e.g. shop_web
    #[arg(long, conflicts_with = "id")]
    pub service: Option<String>,

    /// Only the tasks of services deployed with this stack, e.g. shop
    #[arg(long, conflicts_with = "id")]
    pub stack: Option<String>,

    /// Only containers created from this image reference, e.g. nginx:1.27
    #[arg(long, conflicts_with = "id")]
    pub image: Option<String>,

    /// Only containers in this state; removed ones are listed only this way
    #[arg(long, value_parser = state_parser(), conflicts_with = "id")]
    pub state: Option<ContainerState>,

    /// Only containers with this label; repeat it to require several
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_label, conflicts_with = "id")]
    pub label: Vec<String>,

    /// Show at most N containers
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "id")]
    pub limit: Option<u32>,

    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// The states, listed in `--help` and with the error for any other.
fn state_parser() -> impl TypedValueParser<Value = ContainerState> {
    PossibleValuesParser::new(ContainerState::ALL.map(ContainerState::as_str)).map(|state| {
        state
            .parse::<ContainerState>()
            .expect("only the possible values get here")
    })
}

fn parse_label(given: &str) -> Result<String, String> {
    match given.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(given.to_owned()),
        _ => Err(format!("{given:?} is not KEY=VALUE")),
    }
}

impl Get {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let store = session.targets.store()?;
        if let Some(id) = &self.id {
            let found = store.get(id).await?;
            session.show_record(self.json, &found.snapshot, Some(&found))?;
            return Ok(());
        }
        let filter = Filter {
            node: self.node.clone(),
            image: self.image.clone(),
            state: self.state.map(|state| state.as_str().to_owned()),
            service: self.service.clone(),
            stack: self.stack.clone(),
            node_status: self.node_status,
            labels: self.label.clone(),
        };
        let form = if self.json {
            ListForm::Json(JsonList::default())
        } else {
            ListForm::Table {
                table: Table::new(CONTAINER_COLUMNS, session.color),
                row: container_row,
                nothing: "no containers",
            }
        };
        let (store, filter) = (&store, &filter);
        page_through(
            session,
            form,
            self.limit.map(|limit| limit as usize),
            |limit, cursor| async move { store.list(filter, limit, cursor.as_deref()).await },
        )
        .await
    }
}
