//! How results look: aligned tables and detail blocks for a person, JSON for
//! programs.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use container_info_wire::nodes::{Node, NodeStatus};
use container_info_wire::{ContainerState, Snapshot, Stats, StoredSnapshot};
use serde::Serialize;

const MIB: f64 = 1024.0 * 1024.0;
const COLUMN_GAP: &str = "   ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paint {
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
}

/// `text` in ANSI colour when colour is wanted, as it is otherwise.
pub(crate) fn paint(text: &str, paint: Paint, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match paint {
        Paint::Bold => "1",
        Paint::Dim => "2",
        Paint::Green => "32",
        Paint::Yellow => "33",
        Paint::Red => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub(crate) fn state_paint(state: ContainerState) -> Paint {
    match state {
        ContainerState::Running => Paint::Green,
        ContainerState::Exited | ContainerState::Dead | ContainerState::Removed => Paint::Red,
        _ => Paint::Yellow,
    }
}

/// A stale node stands out; an up one reads as fine.
pub(crate) fn node_status_paint(status: NodeStatus) -> Paint {
    match status {
        NodeStatus::Up => Paint::Green,
        NodeStatus::Stale => Paint::Red,
    }
}

/// "3 minutes ago", as `docker ps` says it.
pub(crate) fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    match seconds {
        ..-5 => "in the future".to_owned(),
        -5..5 => "just now".to_owned(),
        _ => format!("{} ago", span(seconds)),
    }
}

/// As [`ago`], and "in 3 minutes" for a time still to come (when a node turns
/// stale).
pub(crate) fn ago_or_in(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (then - now).num_seconds();
    if seconds >= 5 {
        format!("in {}", span(seconds))
    } else {
        ago(then, now)
    }
}

/// A span of 5 seconds or more in its largest whole unit: "42 seconds", "1 day".
fn span(seconds: i64) -> String {
    let (count, unit) = match seconds {
        ..60 => (seconds, "second"),
        60..3600 => (seconds / 60, "minute"),
        3600..86400 => (seconds / 3600, "hour"),
        _ => (seconds / 86400, "day"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

/// An agent's report interval as a person would say it: "500 ms", "30 s",
/// "1 min 30 s", "2 h".
pub(crate) fn interval(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{:.1} s", ms as f64 / 1000.0);
    }
    let seconds = ms / 1000;
    let parts: Vec<String> = [
        (seconds / 3600, "h"),
        (seconds / 60 % 60, "min"),
        (seconds % 60, "s"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, unit)| format!("{count} {unit}"))
    .collect();
    parts.join(" ")
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

fn timestamp(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", ago(at, now), at.format("%Y-%m-%d %H:%M:%S UTC"))
}

/// As [`timestamp`], for a time that may be still to come.
fn timestamp_either_way(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "{} ({})",
        ago_or_in(at, now),
        at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

pub(crate) struct Cell {
    text: String,
    paint: Option<Paint>,
}

impl Cell {
    pub(crate) fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            paint: None,
        }
    }

    pub(crate) fn painted(text: impl Into<String>, paint: Paint) -> Self {
        Self {
            text: text.into(),
            paint: Some(paint),
        }
    }
}

/// A table printed a page at a time: the header once, and columns that only
/// grow, so that later pages line up with earlier ones as far as they can.
pub(crate) struct Table {
    headers: &'static [&'static str],
    widths: Vec<usize>,
    rows_printed: usize,
    color: bool,
}

impl Table {
    pub(crate) fn new(headers: &'static [&'static str], color: bool) -> Self {
        Self {
            headers,
            widths: headers
                .iter()
                .map(|header| header.chars().count())
                .collect(),
            rows_printed: 0,
            color,
        }
    }

    pub(crate) fn print(&mut self, out: &mut dyn Write, rows: Vec<Vec<Cell>>) -> io::Result<()> {
        for row in &rows {
            for (width, cell) in self.widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        if self.rows_printed == 0 && !rows.is_empty() {
            let header: Vec<Cell> = self
                .headers
                .iter()
                .map(|header| Cell::painted(*header, Paint::Bold))
                .collect();
            self.line(out, &header)?;
        }
        for row in &rows {
            self.line(out, row)?;
        }
        self.rows_printed += rows.len();
        Ok(())
    }

    pub(crate) fn rows_printed(&self) -> usize {
        self.rows_printed
    }

    fn line(&self, out: &mut dyn Write, row: &[Cell]) -> io::Result<()> {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(&self.widths).enumerate() {
            let last = index + 1 == row.len();
            // Padding is added outside the colour codes so that columns line up.
            let padding = if last {
                String::new()
            } else {
                " ".repeat(width - cell.text.chars().count()) + COLUMN_GAP
            };
            let text = match cell.paint {
                Some(how) => paint(&cell.text, how, self.color),
                None => cell.text.clone(),
            };
            line.push_str(&text);
            line.push_str(&padding);
        }
        writeln!(out, "{line}")
    }
}

pub(crate) const CONTAINER_COLUMNS: &[&str] = &[
    "CONTAINER ID",
    "NAME",
    "IMAGE",
    "NODE",
    "STATE",
    "CPU",
    "MEMORY",
    "OBSERVED",
    "REPLICA",
];

pub(crate) fn container_row(stored: &StoredSnapshot, now: DateTime<Utc>) -> Vec<Cell> {
    let snapshot = &stored.snapshot;
    let (cpu, memory) = usage(snapshot);
    vec![
        Cell::plain(snapshot.id.short()),
        Cell::plain(&snapshot.name),
        Cell::plain(&snapshot.image),
        node_cell(&snapshot.node, stored.node_status),
        Cell::painted(snapshot.state.as_str(), state_paint(snapshot.state)),
        Cell::plain(cpu),
        Cell::plain(memory),
        Cell::plain(ago(snapshot.observed_at, now)),
        Cell::plain(&stored.received_by),
    ]
}

/// The node's name, marked when its agent stopped reporting: the row then
/// says what the store last heard, which may no longer be so.
fn node_cell(node: &str, status: Option<NodeStatus>) -> Cell {
    match status {
        Some(NodeStatus::Stale) => Cell::painted(format!("{node} (stale)"), Paint::Red),
        _ => Cell::plain(node),
    }
}

pub(crate) const NODE_COLUMNS: &[&str] = &[
    "NAME",
    "STATUS",
    "CONTAINERS",
    "LAST REPORT",
    "AGENT",
    "INTERVAL",
];

pub(crate) fn node_row(node: &Node, now: DateTime<Utc>) -> Vec<Cell> {
    vec![
        Cell::plain(&node.name),
        Cell::painted(node.status.as_str(), node_status_paint(node.status)),
        Cell::plain(node.containers.to_string()),
        Cell::plain(ago(node.last_report_at, now)),
        Cell::plain(&node.agent_version),
        Cell::plain(interval(node.report_interval_ms)),
    ]
}

/// One node, field by field.
pub(crate) fn node_detail(
    out: &mut dyn Write,
    node: &Node,
    now: DateTime<Utc>,
    color: bool,
) -> io::Result<()> {
    let status = match node.status {
        NodeStatus::Up => "up: its agent reports",
        NodeStatus::Stale => {
            "stale: no report for three intervals; its containers are as last reported"
        }
    };
    let stale_at = timestamp_either_way(node.stale_at, now);
    let stale = match node.status {
        NodeStatus::Up => ("Stale after", format!("{stale_at}, unless it reports")),
        NodeStatus::Stale => ("Stale since", stale_at),
    };
    let signed = if node.attested {
        "yes, by its agent"
    } else {
        "no: posted as the operator, not by its agent"
    };
    let lines = [
        ("Name", node.name.clone()),
        (
            "Status",
            paint(status, node_status_paint(node.status), color),
        ),
        (
            "Containers",
            format!("{} (removed ones not counted)", node.containers),
        ),
        ("Agent", node.agent_version.clone()),
        ("Interval", interval(node.report_interval_ms)),
        ("Last report", timestamp(node.last_report_at, now)),
        stale,
        ("First report", timestamp(node.first_report_at, now)),
        ("From", node.reported_from.clone()),
        ("Signed", signed.to_owned()),
    ];
    key_values(out, &lines, color)
}

fn key_values(out: &mut dyn Write, lines: &[(&str, String)], color: bool) -> io::Result<()> {
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in lines {
        let key = paint(&format!("{key:width$}"), Paint::Bold, color);
        writeln!(out, "{key}  {value}")?;
    }
    Ok(())
}

pub(crate) const HISTORY_COLUMNS: &[&str] = &[
    "OBSERVED", "STATE", "CPU", "MEMORY", "PIDS", "REPLICA", "FROM",
];

pub(crate) fn history_row(stored: &StoredSnapshot, now: DateTime<Utc>) -> Vec<Cell> {
    let snapshot = &stored.snapshot;
    let (cpu, memory) = usage(snapshot);
    let pids = snapshot
        .stats
        .as_ref()
        .map_or("-".to_owned(), |stats| stats.pids.to_string());
    vec![
        Cell::plain(ago(snapshot.observed_at, now)),
        Cell::painted(snapshot.state.as_str(), state_paint(snapshot.state)),
        Cell::plain(cpu),
        Cell::plain(memory),
        Cell::plain(pids),
        Cell::plain(&stored.received_by),
        Cell::plain(&stored.reporter_addr),
    ]
}

fn usage(snapshot: &Snapshot) -> (String, String) {
    match &snapshot.stats {
        Some(stats) => (
            format!("{:.1}%", stats.cpu_percent),
            mib(stats.memory_usage_bytes),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    }
}

/// One container, field by field; with the store's receipt when it has one.
pub(crate) fn detail(
    out: &mut dyn Write,
    snapshot: &Snapshot,
    stored: Option<&StoredSnapshot>,
    now: DateTime<Utc>,
    color: bool,
) -> io::Result<()> {
    let node_status = stored.and_then(|stored| stored.node_status);
    let mut lines = identity_lines(snapshot, node_status, now, color);
    lines.extend(network_lines(snapshot));
    lines.extend(
        snapshot
            .labels
            .iter()
            .map(|(key, value)| ("Label", format!("{key}={value}"))),
    );
    if let Some(stats) = &snapshot.stats {
        lines.extend(stats_lines(stats));
    }
    lines.push(("Observed", timestamp(snapshot.observed_at, now)));
    if let Some(stored) = stored {
        lines.push(("Received", timestamp(stored.received_at, now)));
        lines.push(("Replica", stored.received_by.clone()));
        lines.push(("From", stored.reporter_addr.clone()));
    }
    key_values(out, &lines, color)
}

/// The Swarm service, task and stack of a container that is a Swarm task.
fn swarm_lines(snapshot: &Snapshot) -> impl Iterator<Item = (&'static str, String)> + '_ {
    [
        ("Service", &snapshot.service),
        ("Task", &snapshot.task),
        ("Stack", &snapshot.stack),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key, value.clone()?)))
}

/// What the container is, where (and whether its node still reports, its Swarm
/// service), and since when.
fn identity_lines(
    snapshot: &Snapshot,
    node_status: Option<NodeStatus>,
    now: DateTime<Utc>,
    color: bool,
) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("ID", snapshot.id.to_string()),
        ("Name", snapshot.name.clone()),
        ("Image", snapshot.image.clone()),
    ];
    if !snapshot.image_id.is_empty() {
        lines.push(("Image ID", snapshot.image_id.clone()));
    }
    lines.push(("Node", snapshot.node.clone()));
    if let Some(status) = node_status {
        let said = match status {
            NodeStatus::Up => "up: its agent reports",
            NodeStatus::Stale => "stale: its agent stopped reporting; this may be out of date",
        };
        lines.push(("Node status", paint(said, node_status_paint(status), color)));
    }
    lines.extend(swarm_lines(snapshot));
    lines.push((
        "State",
        paint(snapshot.state.as_str(), state_paint(snapshot.state), color),
    ));
    if let Some(created) = snapshot.created {
        lines.push(("Created", timestamp(created, now)));
    }
    if let Some(started) = snapshot.started_at {
        lines.push(("Started", timestamp(started, now)));
    }
    lines
}

/// One line per network: its addresses, and the gateway when there is one.
fn network_lines(snapshot: &Snapshot) -> impl Iterator<Item = (&'static str, String)> + '_ {
    snapshot.networks.iter().map(|(name, address)| {
        let addresses: Vec<&str> = [&address.ip_address, &address.ipv6_address]
            .into_iter()
            .filter(|ip| !ip.is_empty())
            .map(String::as_str)
            .collect();
        let mut text = format!("{name}: {}", addresses.join(", "));
        if !address.gateway.is_empty() {
            text.push_str(&format!(" (gateway {})", address.gateway));
        }
        ("Network", text)
    })
}

fn stats_lines(stats: &Stats) -> [(&'static str, String); 4] {
    let limit = match stats.memory_limit_bytes {
        0 => "(no limit)".to_owned(),
        limit => format!("of {}", mib(limit)),
    };
    [
        ("CPU", format!("{:.1}%", stats.cpu_percent)),
        (
            "Memory",
            format!("{} {limit}", mib(stats.memory_usage_bytes)),
        ),
        (
            "Net I/O",
            format!(
                "{} in, {} out",
                mib(stats.network_rx_bytes),
                mib(stats.network_tx_bytes)
            ),
        ),
        ("PIDs", stats.pids.to_string()),
    ]
}

pub(crate) fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// A JSON array written as its items arrive, so that a long list is never held
/// whole; one item per line.
#[derive(Default)]
pub(crate) struct JsonList {
    started: bool,
}

impl JsonList {
    pub(crate) fn items<T: Serialize>(
        &mut self,
        out: &mut dyn Write,
        items: &[T],
    ) -> io::Result<()> {
        for item in items {
            out.write_all(if self.started { b",\n" } else { b"[\n" })?;
            self.started = true;
            serde_json::to_writer(&mut *out, item)?;
        }
        Ok(())
    }

    pub(crate) fn finish(self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.started { b"\n]\n" } else { b"[]\n" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn relative_times_read_like_docker_ps() {
        let now = Utc::now();
        let before = |seconds| now - TimeDelta::seconds(seconds);
        assert_eq!(ago(before(2), now), "just now");
        assert_eq!(ago(before(1), now + TimeDelta::seconds(3)), "just now");
        assert_eq!(ago(before(42), now), "42 seconds ago");
        assert_eq!(ago(before(60), now), "1 minute ago");
        assert_eq!(ago(before(3 * 60 + 59), now), "3 minutes ago");
        assert_eq!(ago(before(2 * 3600), now), "2 hours ago");
        assert_eq!(ago(before(86400), now), "1 day ago");
        assert_eq!(ago(before(-60), now), "in the future");
        assert_eq!(ago_or_in(before(-60), now), "in 1 minute");
        assert_eq!(ago_or_in(before(-3), now), "just now");
        assert_eq!(ago_or_in(before(120), now), "2 minutes ago");
    }

    #[test]
    fn intervals_read_as_a_person_says_them() {
        assert_eq!(interval(500), "500 ms");
        assert_eq!(interval(1_500), "1.5 s");
        assert_eq!(interval(30_000), "30 s");
        assert_eq!(interval(90_000), "1 min 30 s");
        assert_eq!(interval(600_000), "10 min");
        assert_eq!(interval(7_200_000), "2 h");
        assert_eq!(interval(86_400_000), "24 h");
    }

    fn node(status: NodeStatus, now: DateTime<Utc>) -> Node {
        Node {
            name: "worker-2".to_owned(),
            status,
            agent_version: "0.9.1".to_owned(),
            first_report_at: now - TimeDelta::hours(2),
            last_report_at: now - TimeDelta::minutes(4),
            stale_at: now - TimeDelta::minutes(1),
            report_interval_ms: 60_000,
            reported_from: "10.0.0.7".to_owned(),
            attested: true,
            containers: 3,
        }
    }

    fn render(rows: Vec<Vec<Cell>>, headers: &'static [&'static str], color: bool) -> String {
        let mut out = Vec::new();
        Table::new(headers, color).print(&mut out, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_stale_node_stands_out_in_colour_and_says_so_without() {
        let now = Utc::now();
        let stale = node(NodeStatus::Stale, now);
        let mut up = node(NodeStatus::Up, now);
        up.name = "worker-1".to_owned();

        let plain = render(
            vec![node_row(&up, now), node_row(&stale, now)],
            NODE_COLUMNS,
            false,
        );
        let lines: Vec<&str> = plain.lines().collect();
        let cells: Vec<&str> = lines[2]
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            ["worker-2", "stale", "3", "4 minutes ago", "0.9.1", "1 min"],
            "{plain}"
        );
        assert!(!plain.contains('\x1b'), "{plain}");

        let coloured = render(vec![node_row(&stale, now)], NODE_COLUMNS, true);
        assert!(coloured.contains("\x1b[31mstale\x1b[0m"), "{coloured:?}");
        let coloured = render(vec![node_row(&up, now)], NODE_COLUMNS, true);
        assert!(coloured.contains("\x1b[32mup\x1b[0m"), "{coloured:?}");
    }

    #[test]
    fn one_node_says_when_it_turned_or_turns_stale_and_how_it_reported() {
        let now = Utc::now();
        let mut out = Vec::new();
        node_detail(&mut out, &node(NodeStatus::Stale, now), now, false).unwrap();
        let shown = String::from_utf8(out).unwrap();
        for expected in [
            "Name          worker-2",
            "Status        stale: no report for three intervals",
            "Containers    3",
            "Agent         0.9.1",
            "Interval      1 min",
            "Last report   4 minutes ago (",
            "Stale since   1 minute ago (",
            "First report  2 hours ago (",
            "From          10.0.0.7",
            "Signed        yes, by its agent",
        ] {
            assert!(shown.contains(expected), "{expected:?} missing:\n{shown}");
        }

        let mut up = node(NodeStatus::Up, now);
        up.stale_at = now + TimeDelta::minutes(2) + TimeDelta::seconds(1);
        up.attested = false;
        let mut out = Vec::new();
        node_detail(&mut out, &up, now, false).unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert!(
            shown.contains("Status        up: its agent reports"),
            "{shown}"
        );
        assert!(shown.contains("Stale after   in 2 minutes ("), "{shown}");
        assert!(shown.contains(", unless it reports"), "{shown}");
        assert!(
            shown.contains("Signed        no: posted as the operator, not by its agent"),
            "{shown}"
        );
    }

    fn stored(node_status: Option<NodeStatus>) -> StoredSnapshot {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "id": "4f1c".repeat(16), "name": "shop_web.1.x3k9", "image": "web:1.4",
            "node": "worker-2", "state": "running", "observed_at": "2026-11-24T10:00:00Z",
            "service": "shop_web", "task": "shop_web.1.x3k9", "stack": "shop",
        }))
        .unwrap();
        StoredSnapshot {
            snapshot,
            received_at: Utc::now(),
            received_by: "r1".to_owned(),
            reporter_addr: "10.0.0.7".to_owned(),
            forwarded_for: None,
            attested_by: None,
            node_status,
        }
    }

    #[test]
    fn containers_of_a_stale_node_are_marked_in_the_table() {
        let now = Utc::now();
        let rows = [None, Some(NodeStatus::Up), Some(NodeStatus::Stale)]
            .map(|status| container_row(&stored(status), now));
        let table = render(rows.into(), CONTAINER_COLUMNS, false);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            !lines[1].contains("stale") && !lines[2].contains("stale"),
            "{table}"
        );
        assert!(lines[3].contains("worker-2 (stale)"), "{table}");

        let coloured = render(
            vec![container_row(&stored(Some(NodeStatus::Stale)), now)],
            CONTAINER_COLUMNS,
            true,
        );
        assert!(
            coloured.contains("\x1b[31mworker-2 (stale)\x1b[0m"),
            "{coloured:?}"
        );
    }

    #[test]
    fn one_container_shows_its_swarm_task_and_its_nodes_status() {
        let now = Utc::now();
        let record = stored(Some(NodeStatus::Stale));
        let mut out = Vec::new();
        detail(&mut out, &record.snapshot, Some(&record), now, false).unwrap();
        let shown = String::from_utf8(out).unwrap();
        let keys: Vec<&str> = shown
            .lines()
            .map(|line| line.split("  ").next().unwrap().trim())
            .collect();
        // Right under the node, where a reader looks for where it runs.
        assert_eq!(
            keys[..7],
            [
                "ID",
                "Name",
                "Image",
                "Node",
                "Node status",
                "Service",
                "Task"
            ],
            "{shown}"
        );
        assert!(
            shown.contains("Node status  stale: its agent stopped reporting"),
            "{shown}"
        );
        assert!(shown.contains("Service      shop_web\n"), "{shown}");
        assert!(shown.contains("Task         shop_web.1.x3k9\n"), "{shown}");
        assert!(shown.contains("Stack        shop\n"), "{shown}");

        // What the agent says (whoami) has no node status; a container that is
        // no Swarm task has none of the three.
        let mut plain = record.snapshot.clone();
        (plain.service, plain.task, plain.stack) = (None, None, None);
        let mut out = Vec::new();
        detail(&mut out, &plain, None, now, false).unwrap();
        let shown = String::from_utf8(out).unwrap();
        for absent in ["Node status", "Service", "Task", "Stack"] {
            assert!(!shown.contains(absent), "{absent} shown:\n{shown}");
        }
    }

    #[test]
    fn sizes_are_in_mib() {
        assert_eq!(mib(52_428_800), "50.0 MiB");
        assert_eq!(mib(1_572_864), "1.5 MiB");
        assert_eq!(mib(0), "0.0 MiB");
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(paint("running", Paint::Green, false), "running");
        assert_eq!(
            paint("running", Paint::Green, true),
            "\x1b[32mrunning\x1b[0m"
        );
    }

    #[test]
    fn table_pages_keep_one_header_and_aligned_columns() {
        let mut table = Table::new(&["A", "LONGER"], false);
        let mut out = Vec::new();
        table
            .print(
                &mut out,
                vec![vec![Cell::plain("wide cell"), Cell::plain("x")]],
            )
            .unwrap();
        table
            .print(&mut out, vec![vec![Cell::plain("y"), Cell::plain("z")]])
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A           LONGER\nwide cell   x\ny           z\n"
        );
        assert_eq!(table.rows_printed(), 2);
    }

    #[test]
    fn a_json_list_is_one_array_however_many_pages() {
        let mut out = Vec::new();
        let mut list = JsonList::default();
        list.items(&mut out, &[1, 2]).unwrap();
        list.items::<i32>(&mut out, &[]).unwrap();
        list.items(&mut out, &[3]).unwrap();
        list.finish(&mut out).unwrap();
        let parsed: Vec<i32> = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, [1, 2, 3]);

        let mut empty = Vec::new();
        JsonList::default().finish(&mut empty).unwrap();
        assert_eq!(empty, b"[]\n");
    }
}
