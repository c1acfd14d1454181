//! The Docker Engine, as the agent uses it: a few reads, each turned into the
//! agent's own types, and the event stream that keeps the inventory current.

pub(crate) mod convert;
pub(crate) mod watch;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::EventMessage;
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, InspectNetworkOptions, ListContainersOptions,
    ListNetworksOptions, StatsOptions,
};
use chrono::Utc;
use container_info_wire::ContainerId;
use futures_util::{Stream, StreamExt, TryStreamExt, stream};

use crate::address_index::AddressIndex;
use crate::error::AgentError;
use crate::inventory::{Fingerprint, GWBRIDGE, GatewayLegs, Joiner, Record};
use crate::redaction::LabelRedactor;
use crate::stats::Sample;

/// Long enough for a busy engine's inspect, short enough that a hung engine is noticed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const INSPECT_CONCURRENCY: usize = 4;

#[derive(Clone, Debug)]
pub(crate) struct Engine {
    docker: Docker,
    host: String,
}

impl Engine {
    /// Connects and agrees on an API version: the agent speaks bollard's newest and
    /// steps down to the engine's (1.41 for Docker 20.10).
    pub(crate) async fn connect(host: &str) -> Result<Self, AgentError> {
        // A bare path is what people mean when they write the socket itself.
        let address = if host.starts_with('/') {
            format!("unix://{host}")
        } else {
            host.to_owned()
        };
        let fail = |doing, source| AgentError::Engine {
            host: host.to_owned(),
            doing,
            source,
        };
        let docker = Docker::connect_with_host(&address)
            .map_err(|source| fail("connecting", source))?
            .with_timeout(REQUEST_TIMEOUT)
            .negotiate_version()
            .await
            .map_err(|source| fail("agreeing on an API version", source))?;
        Ok(Self {
            docker,
            host: host.to_owned(),
        })
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    fn failed(&self, doing: &'static str) -> impl Fn(bollard::errors::Error) -> AgentError + '_ {
        move |source| AgentError::Engine {
            host: self.host.clone(),
            doing,
            source,
        }
    }

    fn unexpected(&self, doing: &'static str) -> impl Fn(String) -> AgentError + '_ {
        move |what| AgentError::EngineAnswer {
            host: self.host.clone(),
            doing,
            what,
        }
    }

    /// The engine host's own name, which is the Swarm node's host name.
    pub(crate) async fn host_name(&self) -> Result<String, AgentError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(self.failed("reading its system info"))?;
        info.name
            .filter(|name| !name.is_empty())
            .ok_or_else(|| self.unexpected("reading its system info")("no host name".into()))
    }

    pub(crate) async fn list(&self) -> Result<HashMap<ContainerId, Fingerprint>, AgentError> {
        let options = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(self.failed("listing containers"))?;
        summaries
            .iter()
            .map(|summary| {
                convert::fingerprint(summary).map_err(self.unexpected("listing containers"))
            })
            .collect()
    }

    /// `id`, if it runs in another container's network namespace (`--network
    /// container:`), from a listing: the engine answers a listing at once, while it
    /// holds back an inspect of a container that is starting until the start is over.
    pub(crate) async fn joiner(&self, id: &ContainerId) -> Result<Option<Joiner>, AgentError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "id".to_owned(),
                vec![id.as_str().to_owned()],
            )])),
            ..Default::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(self.failed("listing a new container"))?;
        Ok(summaries
            .iter()
            .filter(|summary| summary.id.as_deref() == Some(id.as_str()))
            .find_map(convert::joiner))
    }

    /// `None` when the container is gone.
    pub(crate) async fn inspect(
        &self,
        id: &str,
        redactor: &LabelRedactor,
    ) -> Result<Option<Record>, AgentError> {
        let read_at = Utc::now();
        match self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspect) => convert::record(inspect, redactor, read_at)
                .map(Some)
                .map_err(self.unexpected("inspecting a container")),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(source) => Err(self.failed("inspecting a container")(source)),
        }
    }

    /// The `docker_gwbridge` legs; none when this host is in no swarm.
    pub(crate) async fn gateway_legs(&self) -> Result<GatewayLegs, AgentError> {
        let read_at = Utc::now();
        match self
            .docker
            .inspect_network(GWBRIDGE, None::<InspectNetworkOptions>)
            .await
        {
            Ok(network) => Ok(convert::gateway_legs(network, read_at)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(GatewayLegs {
                read_at: Some(read_at),
                ..GatewayLegs::default()
            }),
            Err(source) => Err(self.failed("inspecting docker_gwbridge")(source)),
        }
    }

    /// Every address on this host's networks, with the container each network says
    /// holds it. The engine connects a container to its networks before it runs the
    /// container's process, and the networks name the container from then on; the
    /// container listing shows the addresses only once the engine has marked it
    /// running, which a container that calls at once can be ahead of.
    pub(crate) async fn endpoints(&self) -> Result<AddressIndex, AgentError> {
        let networks = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(self.failed("listing networks"))?;
        // A network without address ranges (host, none) gives no container an address
        // of its own.
        let with_addresses = networks.into_iter().filter_map(|network| {
            let ranges = network.ipam.as_ref()?.config.as_ref()?;
            (!ranges.is_empty()).then_some(network.id?)
        });
        let read: Vec<_> = stream::iter(with_addresses)
            .map(|id| async move {
                match self
                    .docker
                    .inspect_network(&id, None::<InspectNetworkOptions>)
                    .await
                {
                    Ok(network) => Ok(convert::endpoints(network)),
                    // Removed since the listing: it holds no one's address now.
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(HashMap::new()),
                    Err(source) => Err(self.failed("inspecting a network")(source)),
                }
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(AddressIndex::build(
            read.iter()
                .flatten()
                .map(|(id, address)| (id, std::slice::from_ref(address))),
        ))
    }

    /// One stats reading, without the engine's wait for a second CPU reading
    /// (`one-shot`, API 1.41 and later). `None` when the container is not running.
    pub(crate) async fn sample(&self, id: &ContainerId) -> Result<Option<Sample>, AgentError> {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        match self
            .docker
            .stats(id.as_str(), Some(options))
            .try_next()
            .await
        {
            Ok(stats) => Ok(stats.and_then(convert::sample)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(None),
            Err(source) => Err(self.failed("reading container stats")(source)),
        }
    }

    /// Container and network events from `since` (Unix seconds) on, so that events
    /// that happened while the agent read the full picture are not lost.
    pub(crate) fn events(
        &self,
        since: i64,
    ) -> impl Stream<Item = Result<EventMessage, AgentError>> + '_ {
        let filters = HashMap::from([(
            "type".to_owned(),
            vec!["container".to_owned(), "network".to_owned()],
        )]);
        let options = EventsOptions {
            since: Some(since.to_string()),
            until: None,
            filters: Some(filters),
        };
        self.docker
            .events(Some(options))
            .map(|event| event.map_err(self.failed("streaming events")))
    }
}
