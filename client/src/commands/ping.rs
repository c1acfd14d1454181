use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use container_info_wire::REPLICA_HEADER;
use container_info_wire::replicas::{ReplicaRole, ReplicaStatus, Replicas};
use futures_util::future::{join_all, select_ok};
use reqwest::{Client, Url};
use serde::Serialize;

use crate::error::{ClientError, root_cause};
use crate::http::join;
use crate::output::{self, Cell, Paint, Table};
use crate::service::Service;
use crate::session::Session;

/// Swarm's DNS answers at once on a Swarm node; anywhere else the name is
/// unknown, and the roll call should not wait long to find that out.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub(crate) struct Ping {
    /// The store's Swarm service: besides every replica the store's roll call
    /// lists (GET /replicas), the addresses of tasks.<SERVICE> in Swarm's DNS
    /// are asked on the store's port. SERVICE empty: no DNS.
    #[arg(
        long,
        env = "CONTAINER_INFO_SERVICE",
        default_value = "container-info_server",
        value_name = "SERVICE"
    )]
    pub(crate) service: String,

    /// Print the roll call as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

/// One line of the roll call.
#[derive(Debug, Serialize)]
pub struct Answer {
    /// `agent` or `store`.
    pub role: String,
    pub url: String,
    /// The store replica's ID, from its `X-Replica` header or the roll call.
    pub replica: Option<String>,
    /// `leader` or `follower`, from the store's roll call (`GET /replicas`).
    pub replica_role: Option<ReplicaRole>,
    /// Its last heartbeat, from the roll call.
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// When it was asked directly and answered.
    pub latency_ms: Option<f64>,
    /// Why it is not responding.
    pub error: Option<String>,
}

impl Ping {
    pub(crate) async fn run(&self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let agent = session.targets.agent()?.0.base;
        let store = session.targets.store()?.0.base;
        let addresses = if self.service.is_empty() {
            Vec::new()
        } else {
            let port = store
                .port_or_known_default()
                .unwrap_or(Service::Store.port());
            resolve(&format!("tasks.{}", self.service), port).await
        };
        let found = replica_urls(&addresses, &store);
        let http = session.targets.http();
        let mut answers = roll_call(http, &[(Service::Agent, agent)]).await;
        // Every replica the store's database knows, from whichever answers
        // first; then what Swarm's DNS found beyond those.
        let mut asked: Vec<Url> = vec![store.clone()];
        asked.extend(found.iter().filter(|url| **url != store).cloned());
        let targets: Vec<(Service, Url)> =
            found.into_iter().map(|url| (Service::Store, url)).collect();
        match known_replicas(http, &asked).await {
            // Empty only for a store that has not written its first heartbeat.
            Some(known) if !known.items.is_empty() => {
                let listed = join_all(
                    known
                        .items
                        .iter()
                        .map(|replica| ask_replica(http, &store, replica)),
                )
                .await;
                let by_dns = roll_call(http, &targets).await;
                answers.extend(listed);
                answers.extend(by_dns.into_iter().filter(|answer| {
                    !known
                        .items
                        .iter()
                        .any(|replica| Some(&replica.id) == answer.replica.as_ref())
                }));
            }
            _ => answers.extend(roll_call(http, &targets).await),
        }
        if self.json {
            output::json(session.out, &answers)?;
        } else {
            let mut table = Table::new(&["WHO", "ROLE", "ADDRESS", "ANSWER"], session.color);
            table.print(session.out, answers.iter().map(row).collect())?;
        }
        let silent: Vec<String> = answers
            .iter()
            .filter(|answer| answer.error.is_some())
            .map(|answer| answer.url.clone())
            .collect();
        if silent.is_empty() {
            Ok(())
        } else {
            Err(ClientError::NotAllAnswered {
                missing: silent.len(),
                total: answers.len(),
                urls: silent,
            })
        }
    }
}

fn row(answer: &Answer) -> Vec<Cell> {
    let who = answer.replica.as_deref().unwrap_or(&answer.role);
    let role = match answer.replica_role {
        Some(ReplicaRole::Leader) => "leader",
        Some(ReplicaRole::Follower) => "follower",
        None => "-",
    };
    let said = match (&answer.latency_ms, &answer.error, answer.last_heartbeat_at) {
        (_, Some(error), _) => Cell::painted(format!("not responding ({error})"), Paint::Red),
        (Some(latency), None, _) => Cell::painted(format!("{latency:.1} ms"), Paint::Green),
        (None, None, Some(at)) => Cell::painted(
            format!("alive (heartbeat {})", output::ago(at, Utc::now())),
            Paint::Green,
        ),
        (None, None, None) => Cell::plain("-"),
    };
    vec![
        Cell::plain(who),
        Cell::plain(role),
        Cell::plain(&answer.url),
        said,
    ]
}

/// The roll call of the first of `urls` that gives one.
async fn known_replicas(http: &Client, urls: &[Url]) -> Option<Replicas> {
    for url in urls {
        let asked = http
            .get(join(url, &["replicas"]))
            .timeout(ANSWER_TIMEOUT)
            .send()
            .await;
        if let Ok(response) = asked
            && response.status().is_success()
            && let Ok(replicas) = response.json::<Replicas>().await
        {
            return Some(replicas);
        }
    }
    None
}

/// One replica of the roll call: asked directly at each of its addresses at
/// once, the first to answer as this replica counting. A replica that shares
/// its port (host networking) cannot be asked directly, as another replica
/// may answer there: its heartbeat speaks for it.
async fn ask_replica(http: &Client, store: &Url, replica: &ReplicaStatus) -> Answer {
    let urls: Vec<Url> = replica
        .addresses
        .iter()
        .filter_map(|address| Url::parse(&format!("{}://{address}/", store.scheme())).ok())
        .collect();
    let mut answer = Answer {
        role: Service::Store.to_string(),
        url: urls
            .first()
            .map_or_else(|| store.to_string(), Url::to_string),
        replica: Some(replica.id.clone()),
        replica_role: Some(replica.role),
        last_heartbeat_at: Some(replica.last_heartbeat_at),
        latency_ms: None,
        error: None,
    };
    if !replica.alive {
        answer.error = Some(format!(
            "no heartbeat since {}",
            output::ago(replica.last_heartbeat_at, Utc::now())
        ));
        return answer;
    }
    if replica.port_shared || urls.is_empty() {
        return answer;
    }
    let attempts = urls.iter().map(|url| {
        Box::pin(async move {
            let said = self::answer(http, Service::Store, url).await;
            match (&said.error, &said.replica) {
                (None, Some(id)) if *id == replica.id => Ok(said),
                (None, other) => Err(format!(
                    "{url} answered as {}",
                    other.as_deref().unwrap_or("someone else")
                )),
                (Some(error), _) => Err(error.clone()),
            }
        })
    });
    match select_ok(attempts).await {
        Ok((said, _)) => {
            answer.url = said.url;
            answer.latency_ms = said.latency_ms;
        }
        Err(error) => answer.error = Some(error),
    }
    answer
}

/// The store's replicas: each address Swarm's DNS gives for the service, on the
/// store's URL; the store's URL alone when there are none (not on Swarm).
pub(crate) fn replica_urls(addresses: &[SocketAddr], store: &Url) -> Vec<Url> {
    if addresses.is_empty() {
        return vec![store.clone()];
    }
    addresses
        .iter()
        .map(|address| {
            let mut url = store.clone();
            url.set_ip_host(address.ip())
                .expect("an http URL takes an IP host");
            url
        })
        .collect()
}

/// Every address `host` resolves to, in a stable order; none when it does not.
pub(crate) async fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(found)) => {
            let mut addresses: Vec<SocketAddr> = found.collect();
            addresses.sort();
            addresses.dedup();
            addresses
        }
        _ => Vec::new(),
    }
}

/// Asks every target's `/healthz` at once and gives one answer each, in order.
pub async fn roll_call(http: &Client, targets: &[(Service, Url)]) -> Vec<Answer> {
    join_all(
        targets
            .iter()
            .map(|(service, url)| answer(http, *service, url)),
    )
    .await
}

async fn answer(http: &Client, service: Service, base: &Url) -> Answer {
    let started = Instant::now();
    let result = http
        .get(join(base, &["healthz"]))
        .timeout(ANSWER_TIMEOUT)
        .send()
        .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut answer = Answer {
        role: service.to_string(),
        url: base.to_string(),
        replica: None,
        replica_role: None,
        last_heartbeat_at: None,
        latency_ms: None,
        error: None,
    };
    match result {
        Ok(response) if response.status().is_success() => {
            answer.latency_ms = Some(latency_ms);
            answer.replica = response
                .headers()
                .get(REPLICA_HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
        }
        Ok(response) => answer.error = Some(format!("answered {}", response.status())),
        Err(error) if error.is_timeout() => {
            answer.error = Some(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()));
        }
        Err(error) => answer.error = Some(root_cause(&error)),
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_resolves_to_each_of_its_addresses_on_the_port() {
        let addresses = resolve("localhost", 5001).await;
        assert!(
            addresses.contains(&"127.0.0.1:5001".parse().unwrap()),
            "{addresses:?}"
        );
    }

    #[test]
    fn each_replica_address_is_asked_on_the_store_url() {
        let store = Url::parse("http://10.1.2.3:5001/").unwrap();
        let addresses: Vec<SocketAddr> = vec![
            "10.0.1.5:5001".parse().unwrap(),
            "[fd00::7]:5001".parse().unwrap(),
        ];
        let urls: Vec<String> = replica_urls(&addresses, &store)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(urls, ["http://10.0.1.5:5001/", "http://[fd00::7]:5001/"]);
    }

    #[test]
    fn no_replica_addresses_means_the_store_url_alone() {
        let store = Url::parse("http://10.1.2.3:5001/").unwrap();
        assert_eq!(replica_urls(&[], &store), [store]);
    }
}
