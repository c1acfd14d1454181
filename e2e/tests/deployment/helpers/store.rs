//! The store as anyone on the host sees it: curl on port 5001.

use std::process::Command;

use serde_json::Value;

use super::STORE_PORT;

/// One answer: its status, its `X-Replica`, its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub replica: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// The store on port 5001, reached with curl from this host, one connection a request.
pub struct Store {
    base: String,
    /// Sent as `Authorization: Bearer`, when set.
    token: Option<String>,
}

impl Store {
    pub fn on_this_host() -> Self {
        Self::at(&format!("http://127.0.0.1:{STORE_PORT}"))
    }

    /// The store at `base`, e.g. `http://192.168.56.10:5001`.
    pub fn at(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            token: None,
        }
    }

    /// The same store, asked with its token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            base: self.base.clone(),
            token: Some(token.trim().to_owned()),
        }
    }

    /// `None` when curl cannot get an answer at all (no connection, timeout).
    pub fn try_request(&self, method: &str, path: &str, body: Option<&str>) -> Option<Answer> {
        let mut curl = Command::new("curl");
        curl.args(["--silent", "--show-error", "--max-time", "10"])
            .args(["--request", method, "--dump-header", "-"])
            .arg(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            curl.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        if let Some(body) = body {
            curl.args(["--header", "Content-Type: application/json"])
                .args(["--data-binary", body]);
        }
        let output = curl
            .output()
            .expect("curl runs (the deployment test asks the store with it: apt-get install curl)");
        if !output.status.success() {
            eprintln!(
                "curl {method} {path}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return None;
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP header in {text:?}"));
        let mut head = head.lines();
        let status = head
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        let replica = head.find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-replica")
                .then(|| value.trim().to_owned())
        });
        Some(Answer {
            status,
            replica,
            body: body.to_owned(),
        })
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        self.try_request(method, path, body)
            .unwrap_or_else(|| panic!("the store did not answer {method} {path}"))
    }

    /// `GET /containers?<filters>` (such as `node=n1&state=removed`), every
    /// page: the latest record of each container (without `state`, of those
    /// not reported removed).
    pub fn containers_where(&self, filters: &str) -> Vec<Value> {
        self.every_page(&format!("/containers?{filters}"))
    }

    /// `GET /containers/{id}/history`, every page: its records, newest first.
    pub fn history(&self, id: &str) -> Vec<Value> {
        self.every_page(&format!("/containers/{id}/history?"))
    }

    /// `GET /nodes` (one page, all of them): the nodes whose agents report,
    /// with their status.
    pub fn nodes(&self) -> Vec<Value> {
        let answer = self.request("GET", "/nodes", None);
        assert_eq!(answer.status, 200, "GET /nodes: {}", answer.body);
        answer.json()["items"].as_array().expect("items").clone()
    }

    /// The items of every page of the list at `query` (a path and a query
    /// string, which may be empty), 1000 at a time.
    fn every_page(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("{query}&limit=1000"),
                Some(cursor) => format!("{query}&limit=1000&cursor={cursor}"),
            };
            let answer = self.request("GET", &path, None);
            assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
            let page = answer.json();
            all.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }
}
