//! Query parameters and path IDs, parsed once at the edge into what the storage
//! layer takes.

use chrono::DateTime;
use container_info_wire::nodes::NodeStatus;
use container_info_wire::{ContainerId, ContainerState};

use crate::error::ApiError;
use crate::storage::{ContainerFilter, HistoryRange, Listed, timestamp_key};

pub(crate) const DEFAULT_LIMIT: usize = 100;
pub(crate) const MAX_LIMIT: usize = 1000;
/// Shorter prefixes match too much to be useful, as with the docker CLI.
pub(crate) const MIN_PREFIX: usize = 4;

/// `GET /containers?node=&image=&state=&name=&label=k=v&service=&stack=&node_status=&limit=&cursor=`
pub(crate) struct ListQuery {
    pub filter: ContainerFilter,
    pub limit: usize,
    pub before_seq: Option<i64>,
}

/// `GET /containers/{id}/history?since=&until=&limit=&cursor=`
pub(crate) struct HistoryQuery {
    pub range: HistoryRange,
    pub limit: usize,
}

impl ListQuery {
    pub(crate) fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut query = Self {
            filter: ContainerFilter::default(),
            limit: DEFAULT_LIMIT,
            before_seq: None,
        };
        let mut seen = Seen::default();
        for (name, value) in pairs {
            if value.contains('\0') {
                // No stored field holds one (a post with one is refused), and
                // PostgreSQL cannot compare text with one.
                return Err(bad(
                    &name,
                    "holds a NUL character (%00), which no container's field has".to_owned(),
                ));
            }
            match name.as_str() {
                "node" => query.filter.node = Some(seen.once(name, value)?),
                "image" => query.filter.image = Some(seen.once(name, value)?),
                "name" => query.filter.name_contains = Some(seen.once(name, value)?),
                "state" => {
                    let value = seen.once(name, value)?;
                    let state = value
                        .parse::<ContainerState>()
                        .map_err(|message| bad("state", message))?;
                    query.filter.state = Some(state);
                }
                "service" => query.filter.service = Some(seen.once(name, value)?),
                "stack" => query.filter.stack = Some(seen.once(name, value)?),
                "node_status" => {
                    let value = seen.once(name, value)?;
                    query.filter.node_status = Some(
                        value
                            .parse()
                            .map_err(|message| bad("node_status", message))?,
                    );
                }
                "label" => {
                    let (key, value) = value.split_once('=').ok_or_else(|| {
                        bad("label", format!("expected key=value, got {value:?}"))
                    })?;
                    query.filter.labels.push((key.to_owned(), value.to_owned()));
                }
                "limit" => query.limit = parse_limit(&seen.once(name, value)?)?,
                "cursor" => {
                    let cursor = seen.once(name, value)?;
                    query.before_seq = Some(Cursor::decode(&cursor)?.list_seq()?);
                }
                _ => {
                    return Err(unknown(
                        &name,
                        "node, image, state, name, label, service, stack, node_status, limit, cursor",
                    ));
                }
            }
        }
        Ok(query)
    }
}

/// `GET /nodes?status=`
pub(crate) struct NodesQuery {
    pub status: Option<NodeStatus>,
}

impl NodesQuery {
    pub(crate) fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut query = Self { status: None };
        let mut seen = Seen::default();
        for (name, value) in pairs {
            match name.as_str() {
                "status" => {
                    let value = seen.once(name, value)?;
                    query.status = Some(value.parse().map_err(|message| bad("status", message))?);
                }
                _ => return Err(unknown(&name, "status")),
            }
        }
        Ok(query)
    }
}

impl HistoryQuery {
    pub(crate) fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut query = Self {
            range: HistoryRange::default(),
            limit: DEFAULT_LIMIT,
        };
        let mut seen = Seen::default();
        for (name, value) in pairs {
            match name.as_str() {
                "since" => query.range.since = Some(parse_time("since", &seen.once(name, value)?)?),
                "until" => query.range.until = Some(parse_time("until", &seen.once(name, value)?)?),
                "limit" => query.limit = parse_limit(&seen.once(name, value)?)?,
                "cursor" => {
                    let cursor = seen.once(name, value)?;
                    query.range.before = Some(Cursor::decode(&cursor)?.history_key()?);
                }
                _ => return Err(unknown(&name, "since, until, limit, cursor")),
            }
        }
        // An `until` at or before `since` is an empty range, answered with an
        // empty page like any range that holds nothing.
        Ok(query)
    }
}

/// Parameters that may be given once, remembered so a second one is refused
/// rather than silently winning.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn once(&mut self, name: String, value: String) -> Result<String, ApiError> {
        if self.0.contains(&name) {
            return Err(bad(&name, "given more than once".to_owned()));
        }
        self.0.push(name);
        Ok(value)
    }
}

fn bad(parameter: &str, message: String) -> ApiError {
    ApiError::BadParameter {
        parameter: parameter.to_owned(),
        message,
    }
}

fn unknown(name: &str, known: &str) -> ApiError {
    bad(name, format!("unknown parameter; this route takes {known}"))
}

fn parse_limit(value: &str) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(limit @ 1..=MAX_LIMIT) => Ok(limit),
        _ => Err(bad(
            "limit",
            format!("expected a whole number from 1 to {MAX_LIMIT}, got {value:?}"),
        )),
    }
}

fn parse_time(parameter: &str, value: &str) -> Result<String, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| timestamp_key(time.to_utc()))
        .map_err(|error| {
            bad(
                parameter,
                format!(
                    "expected an RFC 3339 time such as 2026-11-24T10:00:00Z, got {value:?}: {error}"
                ),
            )
        })
}

/// Where the next page starts: `l<seq>` in the list, `h<seq>_<observed_at>`
/// (the stored timestamp form) in a history. Opaque to clients all the same.
/// It names keys, not offsets, so it stays valid while rows are written, on
/// every replica; and any text of these two shapes is a cursor, so the OpenAPI
/// document can say exactly which values are (`cursor`'s patterns).
enum Cursor {
    List { seq: i64 },
    History { observed_at: String, seq: i64 },
}

impl Cursor {
    fn encode(&self) -> String {
        match self {
            Self::List { seq } => format!("l{seq}"),
            Self::History { observed_at, seq } => format!("h{seq}_{observed_at}"),
        }
    }

    fn decode(cursor: &str) -> Result<Self, ApiError> {
        let parsed = if let Some(seq) = cursor.strip_prefix('l') {
            parse_seq(seq).map(|seq| Self::List { seq })
        } else if let Some(rest) = cursor.strip_prefix('h') {
            rest.split_once('_')
                .filter(|(_, observed_at)| is_timestamp_key(observed_at))
                .and_then(|(seq, observed_at)| {
                    Some(Self::History {
                        seq: parse_seq(seq)?,
                        observed_at: observed_at.to_owned(),
                    })
                })
        } else {
            None
        };
        parsed.ok_or_else(|| bad("cursor", "not a cursor this store handed out".to_owned()))
    }

    fn list_seq(self) -> Result<i64, ApiError> {
        match self {
            Self::List { seq } => Ok(seq),
            Self::History { .. } => Err(bad("cursor", "this cursor belongs to a history".into())),
        }
    }

    fn history_key(self) -> Result<(String, i64), ApiError> {
        match self {
            Self::History { observed_at, seq } => Ok((observed_at, seq)),
            Self::List { .. } => Err(bad(
                "cursor",
                "this cursor belongs to a container list".into(),
            )),
        }
    }
}

/// A run of decimal digits; one past the largest sequence number starts from
/// the newest row, as the largest would.
fn parse_seq(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(i64::MAX))
}

/// Whether `text` has the shape of `timestamp_key`'s output; it is only ever
/// compared with stored keys, so any such text is a usable position.
fn is_timestamp_key(text: &str) -> bool {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00.000000000Z";
    text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE).all(|(c, &shape)| match shape {
            b'0' => c.is_ascii_digit(),
            _ => c == shape,
        })
}

/// Splits the rows fetched for a page (one more than the limit) into the page
/// and the cursor that continues after it.
pub(crate) fn page_of(
    mut rows: Vec<Listed>,
    limit: usize,
    history: bool,
) -> (Vec<Listed>, Option<String>) {
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let last = rows.last().expect("limit is at least 1");
    let cursor = if history {
        Cursor::History {
            observed_at: last.observed_at.clone(),
            seq: last.seq,
        }
    } else {
        Cursor::List { seq: last.seq }
    };
    (rows, Some(cursor.encode()))
}

/// A container ID or the start of one, as a path segment gives it.
pub(crate) fn parse_id_prefix(given: &str) -> Result<String, ApiError> {
    let refuse = |reason: String| ApiError::BadIdPrefix {
        given: given.to_owned(),
        reason,
    };
    if given.len() < MIN_PREFIX || given.len() > ContainerId::LEN {
        return Err(refuse(format!(
            "give from {MIN_PREFIX} to {} hex digits of the id",
            ContainerId::LEN
        )));
    }
    if let Some(c) = given.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(refuse(format!("ids are hex digits only, found {c:?}")));
    }
    Ok(given.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cursors_round_trip_and_refuse_the_wrong_list() {
        let row = |seq| Listed {
            seq,
            observed_at: "2026-11-24T10:00:00.000000000Z".into(),
            body: String::new(),
        };
        let (page, cursor) = page_of(vec![row(9), row(8), row(7)], 2, true);
        assert_eq!(page.len(), 2);
        let cursor = cursor.unwrap();
        let history = HistoryQuery::parse(pairs(&[("cursor", &cursor)])).unwrap();
        assert_eq!(
            history.range.before,
            Some(("2026-11-24T10:00:00.000000000Z".into(), 8))
        );
        assert!(ListQuery::parse(pairs(&[("cursor", &cursor)])).is_err());
        for garbage in ["", "l", "l1x", "h8", "h8_2026-11-24T10:00:00Z", "nope"] {
            assert!(
                ListQuery::parse(pairs(&[("cursor", garbage)])).is_err()
                    && HistoryQuery::parse(pairs(&[("cursor", garbage)])).is_err(),
                "{garbage}"
            );
        }
        let far = format!("l{}", "9".repeat(30));
        let list = ListQuery::parse(pairs(&[("cursor", &far)])).unwrap();
        assert_eq!(list.before_seq, Some(i64::MAX));
    }

    #[test]
    fn limits_outside_one_to_the_maximum_are_refused() {
        for limit in ["0", "1001", "-1", "ten", ""] {
            assert!(
                ListQuery::parse(pairs(&[("limit", limit)])).is_err(),
                "{limit}"
            );
        }
        assert_eq!(
            ListQuery::parse(pairs(&[("limit", "1000")])).unwrap().limit,
            1000
        );
    }

    #[test]
    fn prefixes_must_be_hex_and_long_enough() {
        assert_eq!(parse_id_prefix("ABCD").unwrap(), "abcd");
        assert!(parse_id_prefix("abc").is_err());
        assert!(parse_id_prefix("abcz").is_err());
        assert!(parse_id_prefix(&"a".repeat(65)).is_err());
    }
}
