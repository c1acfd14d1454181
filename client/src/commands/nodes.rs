use chrono::Utc;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use container_info_wire::nodes::NodeStatus;

use crate::error::ClientError;
use crate::output::{self, JsonList, NODE_COLUMNS, Table, node_row};
use crate::session::Session;

const AFTER_HELP: &str = "\
A node is listed once its agent reports to the store (the agent's --report-to,
fleet mode). It is up while reports come, and stale after three of its report
intervals without one: its containers stay listed as last reported, marked
(stale) by `get`, and may no longer be so.";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Nodes {
    /// Show only this node: its host name, as `get` shows it in NODE
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    /// Only nodes whose agent still reports (up), or has stopped (stale)
    #[arg(long, value_parser = node_status_parser(), conflicts_with = "name")]
    pub status: Option<NodeStatus>,

    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `up` or `stale`, listed as such in `--help` and refused with the choices
/// otherwise; shared with `get --node-status`.
pub(crate) fn node_status_parser() -> impl TypedValueParser<Value = NodeStatus> {
    PossibleValuesParser::new([NodeStatus::Up.as_str(), NodeStatus::Stale.as_str()]).map(|status| {
        status
            .parse::<NodeStatus>()
            .expect("only the possible values get here")
    })
}

impl Nodes {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let store = session.targets.store()?;
        if let Some(name) = &self.name {
            let node = store.node(name).await?;
            if self.json {
                output::json(session.out, &node)?;
            } else {
                output::node_detail(session.out, &node, Utc::now(), session.color)?;
            }
            return Ok(());
        }
        // The store answers every node at once: there are as many as hosts.
        let nodes = store.nodes(self.status).await?.items;
        if self.json {
            let mut list = JsonList::default();
            list.items(session.out, &nodes)?;
            list.finish(session.out)?;
        } else if nodes.is_empty() {
            let nothing = match self.status {
                Some(status) => format!("no {status} nodes"),
                None => "no nodes: no agent reports to this store (an agent does with --report-to)"
                    .to_owned(),
            };
            writeln!(session.out, "{nothing}")?;
        } else {
            let now = Utc::now();
            let mut table = Table::new(NODE_COLUMNS, session.color);
            table.print(
                session.out,
                nodes.iter().map(|node| node_row(node, now)).collect(),
            )?;
        }
        Ok(())
    }
}
