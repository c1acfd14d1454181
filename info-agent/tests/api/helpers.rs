//! What every test needs: the local Docker Engine (or a loud skip), throwaway images,
//! networks and containers that are removed however the test ends, and a running agent.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, HostConfig, NetworkCreateRequest, ServiceSpec, TaskSpec,
    TaskSpecContainerSpec,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, InspectNetworkOptions, LeaveSwarmOptions,
    ListContainersOptions, LogsOptions, RemoveContainerOptions, RemoveImageOptions,
    RenameContainerOptions, StartContainerOptions, StopContainerOptions,
};
use container_info_agent::config::Config;
use container_info_agent::startup::Application;
use container_info_agent::telemetry;
use container_info_testkit::Secrets;
use futures_util::StreamExt;
use serde_json::Value;

/// Where the tests find a statically linked busybox (Debian: `apt-get install busybox-static`).
const BUSYBOX: &str = "/bin/busybox";

pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Something a test made on the engine, to be removed when the test ends.
enum Made {
    Image(String),
    Network(String),
    Container(String),
    /// A Swarm service, by ID, and the containers of its tasks.
    Service(String),
    /// The test put this engine into a swarm; leaving takes `docker_gwbridge` with it
    /// only if the swarm created that network.
    Swarm {
        remove_gwbridge: bool,
    },
}

/// The local engine, with everything a test creates on it removed when this is
/// dropped, also when the test fails.
pub struct TestDocker {
    pub docker: Docker,
    /// Prefix of every name this test gives, unique per test run.
    pub run: String,
    image: Mutex<Option<String>>,
    made: Mutex<Vec<Made>>,
}

impl TestDocker {
    /// `None`, after saying so loudly, when no engine answers, unless
    /// `CONTAINER_INFO_REQUIRE_DOCKER=1`, which makes a missing engine a failure.
    pub async fn connect() -> Option<Self> {
        if std::env::var_os("TEST_LOG").is_some() {
            telemetry::init("debug");
        }
        let host = docker_host();
        let reached = async {
            let docker = Docker::connect_with_defaults()?.negotiate_version().await?;
            docker.ping().await?;
            Ok::<_, bollard::errors::Error>(docker)
        }
        .await;
        match reached {
            Ok(docker) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                Some(Self {
                    docker,
                    run: format!("cia-test-{}-{nanos:x}", std::process::id()),
                    image: Mutex::new(None),
                    made: Mutex::new(Vec::new()),
                })
            }
            Err(error) if std::env::var("CONTAINER_INFO_REQUIRE_DOCKER").as_deref() == Ok("1") => {
                panic!(
                    "CONTAINER_INFO_REQUIRE_DOCKER=1 but the Docker Engine at {host} does not answer: {error}"
                )
            }
            Err(error) => {
                eprintln!(
                    "\n!!!!!!!! SKIPPED: no Docker Engine at {host} ({error}).\n\
                     !!!!!!!! These tests need one; set CONTAINER_INFO_REQUIRE_DOCKER=1 to fail instead.\n"
                );
                None
            }
        }
    }

    fn remember(&self, made: Made) {
        self.made.lock().unwrap().push(made);
    }

    /// An image FROM scratch holding only a static busybox, built once per test.
    /// No registry is needed (none can be reached where these tests run).
    pub async fn image(&self) -> String {
        if let Some(image) = self.image.lock().unwrap().clone() {
            return image;
        }
        assert!(
            Path::new(BUSYBOX).exists(),
            "the tests need a statically linked {BUSYBOX}: apt-get install busybox-static"
        );
        let context = tempfile::tempdir().unwrap();
        std::fs::copy(BUSYBOX, context.path().join("busybox")).unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n",
        )
        .unwrap();
        let tag = format!("{}:probe", self.run);
        // The legacy builder takes a plain directory; the docker CLI tars it up.
        let built = tokio::process::Command::new("docker")
            .args(["build", "--quiet", "--tag", &tag])
            .arg(context.path())
            .output()
            .await
            .expect("the docker CLI builds the test image");
        assert!(
            built.status.success(),
            "building the test image failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        self.remember(Made::Image(tag.clone()));
        *self.image.lock().unwrap() = Some(tag.clone());
        tag
    }

    /// An attachable network of this test. An overlay needs a swarm: the engine
    /// joins a one-node swarm first, unless it is in one.
    pub async fn network(&self, suffix: &str, driver: &str) -> String {
        if driver == "overlay" {
            self.ensure_swarm().await;
        }
        let name = format!("{}-{suffix}", self.run);
        self.docker
            .create_network(NetworkCreateRequest {
                name: name.clone(),
                driver: Some(driver.to_owned()),
                attachable: Some(true),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|error| panic!("creating network {name}: {error}"));
        self.remember(Made::Network(name.clone()));
        name
    }

    /// The host's address on `network`: where its containers reach the agent, known
    /// before any of them starts.
    pub async fn gateway(&self, network: &str) -> String {
        let inspect = self
            .docker
            .inspect_network(network, None::<InspectNetworkOptions>)
            .await
            .unwrap_or_else(|error| panic!("inspecting network {network}: {error}"));
        inspect
            .ipam
            .and_then(|ipam| ipam.config)
            .into_iter()
            .flatten()
            .find_map(|config| config.gateway)
            .unwrap_or_else(|| panic!("network {network} has no gateway"))
    }

    /// The address of a container's `docker_gwbridge` leg, which only that network's
    /// inspect shows.
    pub async fn gateway_leg(&self, container: &str) -> String {
        let gwbridge = self
            .docker
            .inspect_network("docker_gwbridge", None::<InspectNetworkOptions>)
            .await
            .unwrap();
        let leg = &gwbridge.containers.unwrap_or_default()[container];
        let cidr = leg.ipv4_address.as_deref().unwrap_or_default();
        cidr.split('/').next().unwrap_or_default().to_owned()
    }

    /// A running container on `network` (the default bridge when `None`) that runs
    /// `spec.script`, or sleeps.
    pub async fn container(&self, spec: ContainerSpec<'_>) -> TestContainer {
        let mut container = self.created(spec).await;
        container.start().await;
        container.read_address().await;
        container
    }

    /// A container as [`Self::container`] makes it, created but not started.
    pub async fn created(&self, spec: ContainerSpec<'_>) -> TestContainer {
        let image = self.image().await;
        let name = format!("{}-{}", self.run, spec.name);
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(options), spec.body(image))
            .await
            .unwrap_or_else(|error| panic!("creating container {name}: {error}"));
        self.remember(Made::Container(created.id.clone()));
        TestContainer {
            docker: self.docker.clone(),
            id: created.id,
            name,
            network: spec.network.unwrap_or("bridge").to_owned(),
            ip: String::new(),
            gateway: String::new(),
        }
    }

    /// A one-replica Swarm service running the test image, its tasks' containers
    /// labelled `labels` (as `docker stack deploy` labels them
    /// `com.docker.stack.namespace`), and the ID of its running container. The
    /// engine joins a one-node swarm first, unless it is in one. The image is
    /// this engine's own: the engine's attempt to pull it fails, and it runs
    /// the local one, as a one-node swarm does with a locally built image.
    pub async fn service(&self, suffix: &str, labels: &[(&str, &str)]) -> (String, String) {
        let image = self.image().await;
        self.ensure_swarm().await;
        let name = format!("{}-{suffix}", self.run);
        let labels: HashMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let spec = ServiceSpec {
            name: Some(name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image),
                    // Arguments to the image's entrypoint (busybox); `command`
                    // would replace the entrypoint.
                    args: Some(vec!["sleep".into(), "600".into()]),
                    labels: Some(labels),
                    stop_grace_period: Some(1_000_000_000),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_service(spec, None)
            .await
            .unwrap_or_else(|error| panic!("creating service {name}: {error}"));
        let id = created.id.expect("the engine names the service it created");
        self.remember(Made::Service(id.clone()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let running = self
                .docker
                .list_containers(Some(ListContainersOptions {
                    filters: Some(HashMap::from([(
                        "label".to_owned(),
                        vec![format!("com.docker.swarm.service.id={id}")],
                    )])),
                    ..Default::default()
                }))
                .await
                .unwrap();
            if let Some(container) = running.into_iter().find_map(|summary| summary.id) {
                return (name, container);
            }
            assert!(
                Instant::now() < deadline,
                "service {name}: no running container after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Joins a one-node swarm for the test, unless the engine already is in one.
    async fn ensure_swarm(&self) {
        let info = self.docker.info().await.unwrap();
        let state = info
            .swarm
            .and_then(|swarm| swarm.local_node_state)
            .map(|state| state.to_string())
            .unwrap_or_default();
        if state == "active" {
            return;
        }
        let gwbridge_existed = self
            .docker
            .inspect_network("docker_gwbridge", None::<InspectNetworkOptions>)
            .await
            .is_ok();
        self.docker
            .init_swarm(bollard::models::SwarmInitRequest {
                listen_addr: Some("127.0.0.1:2377".into()),
                advertise_addr: Some("127.0.0.1".into()),
                ..Default::default()
            })
            .await
            .expect("a one-node swarm starts");
        self.remember(Made::Swarm {
            remove_gwbridge: !gwbridge_existed,
        });
    }
}

impl Drop for TestDocker {
    fn drop(&mut self) {
        let made = std::mem::take(&mut *self.made.lock().unwrap());
        // Drop cannot await, and the test's runtime may be the one unwinding: a
        // thread of its own with a runtime of its own does the removing.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let docker = Docker::connect_with_defaults().unwrap();
                for made in made.into_iter().rev() {
                    if let Err(error) = made.remove(&docker).await {
                        eprintln!("cleanup: could not remove a test resource: {error}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

impl Made {
    async fn remove(&self, docker: &Docker) -> Result<(), bollard::errors::Error> {
        match self {
            Made::Container(id) => {
                let options = RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                docker.remove_container(id, Some(options)).await
            }
            Made::Network(name) => docker.remove_network(name).await,
            Made::Service(id) => {
                docker.delete_service(id).await?;
                // The engine removes a deleted service's containers in its own
                // time, and leaving the swarm may outrun it.
                let left = docker
                    .list_containers(Some(ListContainersOptions {
                        all: true,
                        filters: Some(HashMap::from([(
                            "label".to_owned(),
                            vec![format!("com.docker.swarm.service.id={id}")],
                        )])),
                        ..Default::default()
                    }))
                    .await?;
                for container in left.into_iter().filter_map(|summary| summary.id) {
                    let options = RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    };
                    match docker.remove_container(&container, Some(options)).await {
                        // Removed by the engine meanwhile, or being removed.
                        Err(bollard::errors::Error::DockerResponseServerError {
                            status_code: 404 | 409,
                            ..
                        })
                        | Ok(()) => {}
                        Err(error) => return Err(error),
                    }
                }
                Ok(())
            }
            Made::Image(tag) => {
                let options = RemoveImageOptions {
                    force: true,
                    ..Default::default()
                };
                docker
                    .remove_image(tag, Some(options), None)
                    .await
                    .map(drop)
            }
            Made::Swarm { remove_gwbridge } => {
                let left = docker
                    .leave_swarm(Some(LeaveSwarmOptions { force: true }))
                    .await;
                if left.is_ok() && *remove_gwbridge {
                    docker.remove_network("docker_gwbridge").await
                } else {
                    left
                }
            }
        }
    }
}

pub struct ContainerSpec<'a> {
    pub name: &'a str,
    /// The network, or `host`, or `container:<ID>` to run in another container's
    /// network namespace; the default bridge when `None`.
    pub network: Option<&'a str>,
    pub env: &'a [&'a str],
    pub labels: &'a [(&'a str, &'a str)],
    /// A busybox `sh -c` script to run instead of sleeping.
    pub script: Option<&'a str>,
}

impl<'a> ContainerSpec<'a> {
    pub fn named(name: &'a str) -> Self {
        Self {
            name,
            network: None,
            env: &[],
            labels: &[],
            script: None,
        }
    }

    pub fn on(self, network: &'a str) -> Self {
        Self {
            network: Some(network),
            ..self
        }
    }

    pub fn running(self, script: &'a str) -> Self {
        Self {
            script: Some(script),
            ..self
        }
    }

    /// What the engine is asked to create, from `image`.
    fn body(&self, image: String) -> ContainerCreateBody {
        let cmd = match self.script {
            Some(script) => vec!["sh".into(), "-c".into(), script.to_owned()],
            None => vec!["sleep".into(), "600".into()],
        };
        ContainerCreateBody {
            image: Some(image),
            cmd: Some(cmd),
            env: Some(self.env.iter().map(|e| e.to_string()).collect()),
            labels: Some(
                self.labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            host_config: Some(HostConfig {
                network_mode: self.network.map(str::to_owned),
                ..Default::default()
            }),
            // sleep or sh as PID 1 ignores SIGTERM; no need to wait the usual 10 s for it.
            stop_timeout: Some(1),
            ..Default::default()
        }
    }
}

pub struct TestContainer {
    docker: Docker,
    pub id: String,
    pub name: String,
    pub network: String,
    pub ip: String,
    /// The host's address on the container's network: where the container reaches the agent.
    pub gateway: String,
}

/// An HTTP answer, as the host or a container received it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// An HTTP/1.0 answer as it came over the wire; `None` while it is incomplete.
    pub fn parse(raw: &str) -> Option<Self> {
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Some(Self {
            status,
            headers,
            body: body.to_owned(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

impl TestContainer {
    pub async fn start(&self) {
        self.docker
            .start_container(&self.id, None::<StartContainerOptions>)
            .await
            .unwrap_or_else(|error| panic!("starting container {}: {error}", self.name));
    }

    pub async fn stop(&self) {
        self.docker
            .stop_container(&self.id, None::<StopContainerOptions>)
            .await
            .unwrap_or_else(|error| panic!("stopping container {}: {error}", self.name));
    }

    /// Renames the container to `name` (give it the test run's prefix, so that
    /// no two runs' names meet).
    pub async fn rename(&mut self, name: String) {
        self.docker
            .rename_container(&self.id, RenameContainerOptions { name: name.clone() })
            .await
            .unwrap_or_else(|error| panic!("renaming container {} to {name}: {error}", self.name));
        self.name = name;
    }

    /// Removes the container at once, running or not.
    pub async fn remove(&self) {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        self.docker
            .remove_container(&self.id, Some(options))
            .await
            .unwrap_or_else(|error| panic!("removing container {}: {error}", self.name));
    }

    /// Its address and gateway on its network, as the engine gave them at its start.
    async fn read_address(&mut self) {
        let inspect = self.inspect().await;
        let endpoint = &inspect["NetworkSettings"]["Networks"][&self.network];
        self.ip = endpoint["IPAddress"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.gateway = endpoint["Gateway"].as_str().unwrap_or_default().to_owned();
    }

    pub async fn inspect(&self) -> Value {
        let inspect = self
            .docker
            .inspect_container(&self.id, None::<InspectContainerOptions>)
            .await
            .unwrap();
        serde_json::to_value(inspect).unwrap()
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// `GET path` from inside the container, to the agent at `host:port`, with
    /// busybox's nc so that error statuses and their bodies come back too.
    pub async fn get_from(&self, host: &str, port: u16, path: &str) -> Answer {
        self.request_from(host, port, path, &[]).await
    }

    /// `GET path` with extra header lines (`Name: value`), as [`Self::get_from`].
    pub async fn request_from(
        &self,
        host: &str,
        port: u16,
        path: &str,
        headers: &[&str],
    ) -> Answer {
        let extra: String = headers
            .iter()
            .map(|header| format!("{header}\\r\\n"))
            .collect();
        let script = format!(
            "printf 'GET {path} HTTP/1.0\\r\\nHost: agent\\r\\n{extra}\\r\\n' \
             | /bin/busybox timeout 10 /bin/busybox nc {host} {port}"
        );
        let exec = self
            .docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(vec!["/bin/busybox", "sh", "-c", &script]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&exec.id, None).await.unwrap()
        else {
            panic!("exec started detached");
        };
        let mut raw = Vec::new();
        while let Some(chunk) = output.next().await {
            raw.extend_from_slice(&chunk.unwrap().into_bytes());
        }
        let raw = String::from_utf8_lossy(&raw);
        Answer::parse(&raw)
            .unwrap_or_else(|| panic!("no HTTP answer to {path} from {host}:{port}: {raw:?}"))
    }

    /// What the container's command has written to stdout and stderr so far.
    pub async fn output(&self) -> String {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let mut logs = self.docker.logs(&self.id, Some(options));
        let mut raw = Vec::new();
        while let Some(chunk) = logs.next().await {
            raw.extend_from_slice(&chunk.unwrap().into_bytes());
        }
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// `GET path` from inside the container to `agent`, through the container's gateway.
    pub async fn get(&self, agent: &TestAgent, path: &str) -> Answer {
        self.get_from(&self.gateway, agent.port, path).await
    }
}

pub struct TestAgent {
    pub port: u16,
    pub http: reqwest::Client,
    /// The content of the agent's --token-file, if it was given one.
    pub token: Option<String>,
}

/// Starts the agent exactly as `main` does, on a port of its own, with the test
/// kit's [`TOKEN`](container_info_testkit::TOKEN) as the operator's (--token-file),
/// and with the defaults changed by `configure`.
pub async fn spawn_agent(configure: impl FnOnce(&mut Config)) -> TestAgent {
    let secrets = Secrets::new();
    let mut config = Config::with_defaults();
    config.listen = "0.0.0.0:0".parse().unwrap();
    config.token_file = Some(secrets.token_file());
    configure(&mut config);
    let token = config.token_file.as_ref().map(|path| {
        let content = std::fs::read_to_string(path).unwrap();
        content.trim().to_owned()
    });
    let listener = TcpListener::bind(config.listen).unwrap();
    // The agent reads its token file at start only.
    let application = Application::build(config, listener)
        .await
        .expect("the agent starts");
    let port = application.port();
    tokio::spawn(application.run_until_stopped());
    TestAgent {
        port,
        http: reqwest::Client::new(),
        token,
    }
}

impl TestAgent {
    /// `GET path` from the host itself, over loopback, as the operator: with the
    /// agent's token, if it has one.
    pub async fn get(&self, path: &str) -> Answer {
        let authorization = self.token.as_ref().map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        self.request(path, &headers).await
    }

    /// `GET path` from the host, over loopback, with exactly these headers.
    pub async fn request(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .http
            .get(format!("http://127.0.0.1:{}{path}", self.port));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = value.to_str().unwrap_or_default().to_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: response.text().await.unwrap(),
        }
    }
}

/// Written after the answer, so that a test knows the whole answer is in the output.
const ANSWERED: &str = "--answered--";

/// A script that asks the agent `/self` the moment the container starts, before the
/// agent can have seen the engine's `start` event, then sleeps so that the test can
/// compare the answer with the engine's inspect of the running container.
pub fn ask_at_start(gateway: &str, port: u16) -> String {
    format!(
        "printf 'GET /self HTTP/1.0\\r\\nHost: agent\\r\\n\\r\\n' \
         | /bin/busybox timeout 10 /bin/busybox nc {gateway} {port}; \
         echo; echo {ANSWERED}; exec /bin/busybox sleep 600"
    )
}

/// The answer the container got at its start, as its output shows it.
pub async fn answer_at_start(container: &TestContainer) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let output = container.output().await;
        if let Some((answer, _)) = output.split_once(ANSWERED) {
            return Answer::parse(answer.trim_end())
                .unwrap_or_else(|| panic!("{}: no HTTP answer in {output:?}", container.name));
        }
        assert!(
            Instant::now() < deadline,
            "{}: no answer within 15 s: {output:?}",
            container.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asks again until `check` passes or `within` is over; returns the last answer.
pub async fn eventually<F, Fut>(
    within: Duration,
    mut ask: F,
    check: impl Fn(&Answer) -> bool,
) -> Answer
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let deadline = Instant::now() + within;
    loop {
        let answer = ask().await;
        if check(&answer) || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The path of the engine's Unix socket, when the engine is reached through one.
pub fn engine_socket() -> Option<PathBuf> {
    docker_host().strip_prefix("unix://").map(PathBuf::from)
}

/// Forwards a Unix socket of its own to the engine's, and can be stopped and
/// started again: a stand-in for an engine that goes away and comes back.
pub struct EngineProxy {
    pub path: PathBuf,
    target: PathBuf,
    forwarding: Option<tokio::task::JoinHandle<()>>,
}

impl EngineProxy {
    pub fn start(path: PathBuf, target: PathBuf) -> Self {
        let mut proxy = Self {
            path,
            target,
            forwarding: None,
        };
        proxy.resume();
        proxy
    }

    pub fn resume(&mut self) {
        let listener = tokio::net::UnixListener::bind(&self.path).unwrap();
        let target = self.target.clone();
        self.forwarding = Some(tokio::spawn(async move {
            // Owned by this task, so that stopping it cuts every open connection too.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut engine) = tokio::net::UnixStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        }));
    }

    /// The engine "goes away": open connections are cut and the socket disappears.
    pub fn stop(&mut self) {
        if let Some(forwarding) = self.forwarding.take() {
            forwarding.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn labels(snapshot: &Value) -> HashMap<String, String> {
    serde_json::from_value(snapshot["labels"].clone()).unwrap()
}
