//! Requests to the agent and the store, and the one place where a transport
//! failure or a non-2xx answer becomes a readable error.

use std::time::Duration;

use container_info_wire::ErrorBody;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, root_cause};
use crate::service::Service;

/// Both services are on the local network: a slow answer means a problem, and a
/// person at the prompt should hear about it quickly.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn http_client() -> Result<Client, ClientError> {
    let builder = || {
        Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("container-info/", env!("CARGO_PKG_VERSION")))
    };
    builder()
        .build()
        // A minimal image may carry no CA certificates. The agent and the store
        // speak plain http, so go on without any: an https URL then fails when
        // it is used, naming the certificate it could not check.
        .or_else(|_| builder().tls_certs_only([]).build())
        .map_err(|error| ClientError::Runtime(root_cause(&error)))
}

/// `base` with path segments added, each percent-encoded, so that whatever a
/// person typed as an ID stays one segment.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("http URLs have a path")
        .pop_if_empty()
        .extend(segments);
    url
}

/// One service at one base URL.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub service: Service,
    pub base: Url,
    http: Client,
    /// Sent with every request, when set.
    authorization: Option<HeaderValue>,
}

impl Endpoint {
    pub(crate) fn new(service: Service, base: Url, http: Client) -> Self {
        Self {
            service,
            base,
            http,
            authorization: None,
        }
    }

    pub(crate) fn authorized(self, authorization: Option<HeaderValue>) -> Self {
        Self {
            authorization,
            ..self
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let url = join(&self.base, segments);
        let request = self.http.get(url.clone()).query(query);
        let response = self.send(Method::GET, &url, request).await?;
        self.read(Method::GET, response).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ClientError> {
        let url = join(&self.base, segments);
        let request = self.http.post(url.clone()).json(body);
        let response = self.send(Method::POST, &url, request).await?;
        self.read(Method::POST, response).await
    }

    /// Sends a request and gives back a 2xx answer; anything else is an error
    /// that names the URL, what happened, and what to set to change the address.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        mut request: RequestBuilder,
    ) -> Result<Response, ClientError> {
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request.build().map_err(|error| {
            ClientError::Usage(format!(
                "{method} {url}: cannot make the request: {}",
                root_cause(&error)
            ))
        })?;
        // With the query string, as it was sent.
        let url = request.url().to_string();
        let response = self.http.execute(request).await.map_err(|error| {
            let reason = if error.is_timeout() {
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
            } else {
                root_cause(&error)
            };
            ClientError::Unreachable {
                service: self.service,
                method: method.clone(),
                url: url.clone(),
                reason,
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => body.error,
            Err(_) if text.trim().is_empty() => "no explanation given".to_owned(),
            // Not one of ours (a proxy, another program on the port): show the start of it.
            Err(_) => text.trim().chars().take(120).collect(),
        };
        Err(ClientError::Refused {
            service: self.service,
            method,
            url,
            status,
            message,
        })
    }

    async fn read<T: DeserializeOwned>(
        &self,
        method: Method,
        response: Response,
    ) -> Result<T, ClientError> {
        let url = response.url().to_string();
        let bad_answer = |reason: String| ClientError::BadAnswer {
            service: self.service,
            method: method.clone(),
            url: url.clone(),
            reason,
        };
        let body = response
            .bytes()
            .await
            .map_err(|error| bad_answer(root_cause(&error)))?;
        serde_json::from_slice(&body).map_err(|error| bad_answer(error.to_string()))
    }
}
