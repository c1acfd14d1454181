//! The status page in a real browser: headless Chromium, driven through the
//! DevTools protocol, against three real replica processes on one database
//! (a SQLite file, and a PostgreSQL database). It checks what a person would: the page loads cleanly (no console
//! error, no failed request), names three replicas and one leader, lists the
//! nodes and says in words which one's agent stopped reporting, filters and
//! pages, shows a snapshot posted and a node turned stale meanwhile without a
//! reload, keeps its tables without JavaScript, fits a phone's width, and
//! shows hostile names as text. Screenshots are kept in `target/test-artifacts/`.
//!
//! Without Chromium (Debian's `chromium` package) it skips loudly, unless
//! `CONTAINER_INFO_REQUIRE_TOOLS=1`, which makes that a failure.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetScriptExecutionDisabledParams,
};
use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::browser_protocol::network::{EventLoadingFailed, EventResponseReceived};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig, Page};
use chrono::{SecondsFormat, Utc};
use container_info_testkit::{
    Backend, KEY, Replica, Secrets, SharedDatabase, TOKEN, at, bearer, both_backends, container_id,
    node_report, signed_node_report, snapshot,
};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_container-info-server");
const HOSTILE: &str = r#"<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">"#;
const HOSTILE_NODE: &str = r#"<img src=x onerror="window.pwned = 5">node"#;
/// An agent that reports this often stops; its node is stale three intervals later.
const SHORT_INTERVAL_MS: u64 = 200;
/// In the containers' table: node-2's rows, and only those, marked stale in
/// words next to the node's name; and at least one shown.
const NODE_2_MARKED: &str = "[...document.querySelectorAll('#container-table tbody tr[data-id]')].every(tr => \
       tr.classList.contains('stale-node') \
         ? tr.cells[2].textContent === 'node-2 stale' \
         : !tr.cells[2].textContent.startsWith('node-2')) \
     && document.querySelectorAll('#container-table tr.stale-node').length > 0";
/// Long enough that a node reported once stays up for the whole test.
const LONG_INTERVAL_MS: u64 = 600_000;
/// More than two pages of the page's 20 rows.
const CONTAINERS: u64 = 45;
/// The page refreshes every 3 s; this leaves room for a loaded machine.
const WAIT: Duration = Duration::from_secs(15);

both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    the_status_page_works_in_a_real_browser
);

async fn the_status_page_works_in_a_real_browser(backend: Backend) {
    let Some(chromium) = chromium() else { return };
    let folder = tempfile::tempdir().unwrap();
    let database = SharedDatabase::new(backend).await;
    let replicas: Vec<Replica> = (1..=3)
        .map(|n| {
            Replica::start(
                Path::new(BINARY),
                "127.0.0.1:0",
                &format!("replica-{n}"),
                &database.argument,
            )
        })
        .collect();
    let http = reqwest::Client::new();
    let store = &replicas[0].url;
    wait_for_roll_call(&http, store).await;
    post_containers(&http, store).await;
    for node in ["node-1", HOSTILE_NODE] {
        post_node(&http, store, &node_report(node, LONG_INTERVAL_MS, &now())).await;
    }

    let (browser, _handler) = launch(&chromium, folder.path()).await;
    let (page, problems) = open_watched(&browser, store).await;

    // Three replicas, exactly one leader.
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#replica-table tbody tr').length"
        )
        .await,
        3
    );
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#replica-table tbody tr[data-role=leader]').length"
        )
        .await,
        1
    );

    // The nodes that reported, by name; the hostile one's name as text.
    let mut nodes = nodes_shown(&page).await;
    nodes.sort();
    assert_eq!(
        nodes,
        [
            format!("{HOSTILE_NODE} up 0 10 min"),
            "node-1 up 31 10 min".to_owned()
        ]
    );
    assert_eq!(
        eval::<u64>(&page, "document.querySelectorAll('#node-table img').length").await,
        0
    );

    // The hostile name is text: shown as written, run nowhere.
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#container-table tbody tr[data-id]').length"
        )
        .await,
        20
    );
    let names: Vec<String> = eval(
        &page,
        "[...document.querySelectorAll('#container-table a.open')].map(a => a.textContent)",
    )
    .await;
    assert!(names.iter().any(|name| name == HOSTILE), "{names:?}");
    assert_eq!(
        eval::<String>(&page, "typeof window.pwned").await,
        "undefined"
    );
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#container-table img, #container-table script').length"
        )
        .await,
        0
    );
    // Its labels too, in its detail.
    page.find_element(&format!(
        "#container-table tr[data-id=\"{}\"]",
        container_id(CONTAINERS)
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_until(&page, "[...document.querySelectorAll('#detail td')].some(td => td.textContent === '<script>window.pwned = 4</script>')", "the hostile labels, as text").await;
    // Not a Swarm task: no service, task or stack to show.
    assert!(!detail_fields(&page).await.contains(&"Service".to_owned()));
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#detail img, #detail script').length"
        )
        .await,
        0
    );
    assert_eq!(
        eval::<String>(&page, "typeof window.pwned").await,
        "undefined"
    );
    page.find_element("#close-detail")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    screenshot(&page, backend, "status-page.png").await;

    // Paging moves forward and back, in place.
    let first_page = ids_shown(&page).await;
    page.find_element("#next-page")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        &page,
        "document.getElementById('page-number')?.textContent === 'page 2'",
        "page 2",
    )
    .await;
    wait_until(
        &page,
        &format!(
            "!document.querySelector('#container-table tbody tr[data-id=\"{}\"]')",
            first_page[0]
        ),
        "page 2's rows",
    )
    .await;
    let second_page = ids_shown(&page).await;
    assert_eq!(second_page.len(), 20);
    assert!(
        second_page.iter().all(|id| !first_page.contains(id)),
        "page 2 repeats page 1"
    );
    page.find_element("#previous-page")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        &page,
        "document.getElementById('page-number')?.textContent === 'page 1'",
        "back on page 1",
    )
    .await;

    // A snapshot posted to another replica appears without a reload.
    eval::<bool>(&page, "window.sameDocument = true").await;
    let mut live = snapshot(CONTAINERS + 1, &at(100));
    live["name"] = json!("arrived-while-watching");
    post(&http, &replicas[2].url, &live).await;
    wait_until(&page, "[...document.querySelectorAll('#container-table a.open')].some(a => a.textContent === 'arrived-while-watching')", "the new snapshot").await;
    assert!(
        eval::<bool>(&page, "window.sameDocument === true").await,
        "the page was reloaded"
    );

    // A node whose agent reports (to another replica) is up; once the agent
    // stops, it turns stale three intervals later, with nothing to say so, and
    // the page says it at its next refresh, without a reload: in the nodes and
    // on each of its containers.
    let agent = tokio::spawn(agent_reporting(
        http.clone(),
        replicas[1].url.clone(),
        "node-2",
    ));
    wait_until(
        &page,
        "document.querySelector('#node-table tr[data-node=\"node-2\"]')?.dataset.status === 'up'",
        "node-2 up",
    )
    .await;
    assert!(
        nodes_shown(&page)
            .await
            .contains(&"node-2 up 15 200 ms".to_owned())
    );
    wait_until(
        &page,
        "!document.querySelector('#container-table tr.stale-node')",
        "no container marked stale",
    )
    .await;
    agent.abort();
    let _ = agent.await;
    wait_until(
        &page,
        "document.querySelector('#node-table tr[data-node=\"node-2\"]')?.dataset.status === 'stale'",
        "node-2 stale",
    )
    .await;
    assert!(
        nodes_shown(&page)
            .await
            .contains(&"node-2 stale 15 200 ms".to_owned())
    );
    wait_until(
        &page,
        NODE_2_MARKED,
        "node-2's containers marked stale, and only those",
    )
    .await;
    assert!(
        eval::<bool>(&page, "window.sameDocument === true").await,
        "the page was reloaded"
    );
    screenshot(&page, backend, "status-page-nodes.png").await;

    // A filter narrows the table: the search box, typed into.
    page.find_element("#search")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("web-7")
        .await
        .unwrap();
    wait_until(&page, "[...document.querySelectorAll('#container-table a.open')].every(a => a.textContent.includes('web-7'))", "the search").await;
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#container-table tbody tr[data-id]').length"
        )
        .await,
        1
    );
    assert!(
        eval::<String>(&page, "location.search")
            .await
            .contains("name=web-7")
    );

    // The row opens the container: its record, history and two charts.
    page.find_element("#container-table tbody tr[data-id]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        &page,
        "document.querySelector('#detail h2')?.textContent === 'web-7' \
         && document.querySelectorAll('#detail svg polyline').length === 2",
        "the detail's charts",
    )
    .await;
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#history-table tbody tr').length"
        )
        .await,
        4
    );
    // A Swarm task: its service, task and stack.
    assert_eq!(
        detail_fields(&page).await,
        [
            "ID",
            "Image",
            "Image ID",
            "Node",
            "Service",
            "Task",
            "Stack",
            "State",
            "Created",
            "Started",
            "Observed",
            "Received",
            "Attested by"
        ]
    );
    assert_eq!(
        eval::<Vec<String>>(
            &page,
            "[...document.querySelectorAll('#detail dt')].filter(dt => ['Service', 'Task', 'Stack'].includes(dt.textContent)).map(dt => dt.nextElementSibling.textContent)"
        )
        .await,
        ["shop_web", "shop_web.1.x3k9", "shop"]
    );
    screenshot(&page, backend, "status-page-detail.png").await;

    // The node filter, from the form, with the search cleared.
    page.evaluate(
        "document.getElementById('search').value = ''; \
         document.querySelector('#filters [name=node]').value = 'node-2'; \
         document.getElementById('close-detail').click(); \
         document.getElementById('filters').requestSubmit()",
    )
    .await
    .unwrap();
    wait_until(&page, "[...document.querySelectorAll('#container-table tbody tr[data-id] td:nth-child(3)')].every(td => td.firstChild.textContent === 'node-2')", "the node filter").await;
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#container-table tbody tr[data-id]').length"
        )
        .await,
        15
    );

    // The node status filter: the containers of stale nodes (node-2's only).
    page.evaluate(
        "document.querySelector('#filters [name=node]').value = ''; \
         document.querySelector('#filters [name=node_status]').value = 'stale'; \
         document.getElementById('filters').requestSubmit()",
    )
    .await
    .unwrap();
    wait_until(
        &page,
        "location.search === '?node_status=stale' \
         && document.querySelectorAll('#container-table tbody tr.stale-node').length === 15 \
         && document.querySelectorAll('#container-table tbody tr[data-id]').length === 15",
        "the node status filter",
    )
    .await;

    // The Swarm filters, folded away until opened: the stack's one task.
    page.find_element("#swarm-filters summary")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.find_element("#filters [name=stack]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("shop")
        .await
        .unwrap();
    page.evaluate(
        "document.querySelector('#filters [name=node_status]').value = ''; \
         document.getElementById('filters').requestSubmit()",
    )
    .await
    .unwrap();
    wait_until(
        &page,
        "location.search === '?stack=shop' \
         && [...document.querySelectorAll('#container-table a.open')].map(a => a.textContent).join() === 'web-7'",
        "the stack filter",
    )
    .await;
    screenshot(&page, backend, "status-page-swarm-filter.png").await;

    // A phone's width: the body does not scroll sideways; the tables scroll in their own boxes.
    page.execute(SetDeviceMetricsOverrideParams::new(375, 800, 2.0, true))
        .await
        .unwrap();
    page.goto(format!("{store}/")).await.unwrap();
    wait_until(
        &page,
        "document.getElementById('status').textContent.startsWith('Updated')",
        "the refresh at 375 px",
    )
    .await;
    assert_eq!(eval::<u64>(&page, "window.innerWidth").await, 375);
    // With the folded filters open too.
    page.find_element("#swarm-filters summary")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(shown(&page, "#filters [name=stack]").await);
    let overflow: u64 = eval(
        &page,
        "document.documentElement.scrollWidth - window.innerWidth",
    )
    .await;
    assert_eq!(overflow, 0, "the page scrolls sideways at 375 px");
    for table in ["#node-table", "#container-table"] {
        assert!(eval::<bool>(&page, &format!("getComputedStyle(document.querySelector('{table}').parentElement).overflowX === 'auto'")).await, "{table}");
    }
    screenshot(&page, backend, "status-page-375.png").await;

    assert_no_problems(&problems);

    // Without JavaScript: the server's own rendering has both tables and plain paging links.
    let plain = open_without_javascript(&browser, store).await;
    // Long enough for the script's first refresh, had it run.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        eval::<String>(&plain, "document.getElementById('status').textContent").await,
        "",
        "the script ran"
    );
    assert_eq!(
        plain
            .find_elements("#replica-table tbody tr")
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        plain
            .find_elements("#replica-table tbody tr[data-role=leader]")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        plain
            .find_elements("#container-table tbody tr[data-id]")
            .await
            .unwrap()
            .len(),
        20
    );
    let mut nodes = nodes_shown(&plain).await;
    nodes.sort();
    assert_eq!(
        nodes,
        [
            format!("{HOSTILE_NODE} up 0 10 min"),
            "node-1 up 32 10 min".to_owned(),
            "node-2 stale 15 200 ms".to_owned()
        ]
    );
    assert!(
        eval::<bool>(&plain, NODE_2_MARKED).await,
        "the server marks node-2's containers stale"
    );
    // Followed as the link says: clicking through the protocol needs script.
    let next = plain
        .find_element("a#next-page")
        .await
        .unwrap()
        .attribute("href")
        .await
        .unwrap()
        .expect("the next page's link has an address");
    assert!(next.contains("cursor="), "{next}");
    plain.goto(format!("{store}{next}")).await.unwrap();
    assert_eq!(
        plain
            .find_elements("#container-table tbody tr[data-id]")
            .await
            .unwrap()
            .len(),
        20
    );
    assert_eq!(plain.find_elements("a#first-page").await.unwrap().len(), 1);
    screenshot(&plain, backend, "status-page-no-javascript.png").await;
}

/// A store with `--protect-reads`: the page shows the replicas and no node
/// or container, asks for the token, and lists them once given it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_protects_reads_shows_nodes_and_containers_only_once_given_the_token() {
    let Some(chromium) = chromium() else { return };
    let secrets = Secrets::new();
    let token_file = secrets.token_file();
    let replica = Replica::start_with(
        Path::new(BINARY),
        "127.0.0.1:0",
        "guarded",
        secrets.path("store.db"),
        &[
            "--token-file",
            token_file.to_str().unwrap(),
            "--signing-key-file",
            secrets.key_file().to_str().unwrap(),
            "--protect-reads",
        ],
    );
    let http = reqwest::Client::new();
    let mut secret = snapshot(1, &at(0));
    secret["name"] = json!("behind-the-token");
    secret["node"] = json!("node-behind-the-token");
    let response = http
        .post(format!("{}/containers", replica.url))
        .header("Authorization", bearer())
        .json(&secret)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    // As an agent reports its node: signed with the agents' key, no token.
    post_node(
        &http,
        &replica.url,
        &signed_node_report(
            node_report("node-behind-the-token", LONG_INTERVAL_MS, &now()),
            KEY,
        ),
    )
    .await;

    let (browser, _handler) = launch(&chromium, &secrets.path("browser")).await;
    let (page, problems) = open_watched(&browser, &replica.url).await;
    assert_eq!(
        eval::<u64>(
            &page,
            "document.querySelectorAll('#replica-table tbody tr').length"
        )
        .await,
        1
    );
    assert!(!shown(&page, "#container-table").await);
    assert!(!shown(&page, "#node-table").await);
    assert!(
        !eval::<bool>(
            &page,
            "document.body.textContent.includes('behind-the-token')"
        )
        .await
    );
    assert!(shown(&page, "#token-form").await);
    screenshot(&page, Backend::Sqlite, "status-page-protected-asks.png").await;

    page.find_element("#token")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(TOKEN)
        .await
        .unwrap()
        .press_key("Enter")
        .await
        .unwrap();
    wait_until(
        &page,
        "[...document.querySelectorAll('#container-table a.open')].some(a => a.textContent === 'behind-the-token')",
        "the containers, with the token",
    )
    .await;
    assert_eq!(
        nodes_shown(&page).await,
        ["node-behind-the-token up 1 10 min"]
    );
    assert!(!shown(&page, "#token-form").await);
    assert!(!shown(&page, "#protected").await);
    screenshot(&page, Backend::Sqlite, "status-page-protected.png").await;
    assert_no_problems(&problems);

    // Without JavaScript: the notice, and no form that could not work.
    let plain = open_without_javascript(&browser, &replica.url).await;
    assert!(shown(&plain, "#protected").await);
    assert!(!shown(&plain, "#token-form").await);
    assert!(!shown(&plain, "#container-table").await);
    assert!(!shown(&plain, "#node-table").await);
    assert!(
        !eval::<bool>(
            &plain,
            "document.body.textContent.includes('behind-the-token')"
        )
        .await
    );
}

/// Chromium's path, or `None` after saying loudly that the test is skipped.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .flat_map(|folder| ["chromium", "chromium-browser"].map(|name| folder.join(name)))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert_ne!(
            std::env::var("CONTAINER_INFO_REQUIRE_TOOLS").as_deref(),
            Ok("1"),
            "CONTAINER_INFO_REQUIRE_TOOLS=1 but chromium is not installed (apt-get install chromium)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: chromium is not installed; the status page's browser test needs it.\n"
        );
    }
    found
}

async fn launch(chromium: &Path, folder: &Path) -> (Browser, tokio::task::JoinHandle<()>) {
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .new_headless_mode()
        // Tests run as root in containers, where Chromium's sandbox cannot start.
        .no_sandbox()
        .user_data_dir(folder.join("chromium"))
        // Its singleton socket's folder too, which it would leave in /tmp.
        .env("TMPDIR", folder.display().to_string())
        .window_size(1280, 900)
        .viewport(None)
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.expect("chromium starts");
    // The connection is served by this loop; a message the crate does not
    // know (a newer Chromium) is no reason to stop it.
    let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
    (browser, handler)
}

/// The store's page in a new tab, once its script has refreshed it, and what
/// the tab reports going wrong from before it loaded.
async fn open_watched(browser: &Browser, store: &str) -> (Page, Arc<Mutex<Vec<String>>>) {
    let page = browser.new_page("about:blank").await.unwrap();
    let problems = watch(&page).await;
    page.goto(format!("{store}/")).await.unwrap();
    wait_until(
        &page,
        "document.getElementById('status').textContent.startsWith('Updated')",
        "the first refresh",
    )
    .await;
    (page, problems)
}

/// The store's page in a new tab that runs no script: what a reader without
/// JavaScript gets.
async fn open_without_javascript(browser: &Browser, store: &str) -> Page {
    let page = browser.new_page("about:blank").await.unwrap();
    page.execute(SetScriptExecutionDisabledParams::new(true))
        .await
        .unwrap();
    page.goto(format!("{store}/")).await.unwrap();
    page
}

fn assert_no_problems(problems: &Mutex<Vec<String>>) {
    let seen = problems.lock().unwrap().clone();
    assert!(seen.is_empty(), "the browser reported: {seen:#?}");
}

/// Collects what the page reports going wrong: console errors, uncaught
/// exceptions, log entries at error level (a refused CSP is one), failed
/// requests and answers of 400 or more.
async fn watch(page: &Page) -> Arc<Mutex<Vec<String>>> {
    let problems = Arc::new(Mutex::new(Vec::new()));
    let mut console = page
        .event_listener::<EventConsoleApiCalled>()
        .await
        .unwrap();
    let mut exceptions = page.event_listener::<EventExceptionThrown>().await.unwrap();
    let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
    let mut failed = page.event_listener::<EventLoadingFailed>().await.unwrap();
    let mut responses = page
        .event_listener::<EventResponseReceived>()
        .await
        .unwrap();
    let seen = problems.clone();
    tokio::spawn(async move {
        let note = |text: String| seen.lock().unwrap().push(text);
        loop {
            tokio::select! {
                Some(event) = console.next() => if event.r#type == ConsoleApiCalledType::Error {
                    note(format!("console.error: {:?}", event.args.iter().map(|arg| &arg.value).collect::<Vec<_>>()));
                },
                Some(event) = exceptions.next() => note(format!("exception: {:?}", event.exception_details)),
                Some(event) = log.next() => if event.entry.level == LogEntryLevel::Error {
                    note(format!("log: {} ({:?})", event.entry.text, event.entry.url));
                },
                Some(event) = failed.next() => note(format!("request failed: {} ({:?})", event.error_text, event.r#type)),
                Some(event) = responses.next() => if event.response.status >= 400 {
                    note(format!("HTTP {} from {}", event.response.status, event.response.url));
                },
                else => break,
            }
        }
    });
    problems
}

async fn eval<T: DeserializeOwned>(page: &Page, expression: &str) -> T {
    page.evaluate(expression)
        .await
        .unwrap_or_else(|error| panic!("{expression}: {error}"))
        .into_value()
        .unwrap_or_else(|error| panic!("{expression}: {error}"))
}

async fn wait_until(page: &Page, condition: &str, what: &str) {
    let started = Instant::now();
    while !eval::<bool>(page, &format!("Boolean({condition})")).await {
        if started.elapsed() > WAIT {
            let status: String =
                eval(page, "document.getElementById('status')?.textContent ?? ''").await;
            panic!("waited {WAIT:?} for {what}; the page's status says {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the element takes up room on the screen (not merely lacking `hidden`).
async fn shown(page: &Page, selector: &str) -> bool {
    eval(
        page,
        &format!("document.querySelector('{selector}').getClientRects().length > 0"),
    )
    .await
}

/// Each node's row as it reads: name, status, containers, interval.
async fn nodes_shown(page: &Page) -> Vec<String> {
    eval(
        page,
        "[...document.querySelectorAll('#node-table tbody tr[data-node]')].map(tr => \
           [0, 1, 2, 5].map(i => tr.cells[i].textContent).join(' '))",
    )
    .await
}

/// The names of the fields of the container's detail.
async fn detail_fields(page: &Page) -> Vec<String> {
    eval(
        page,
        "[...document.querySelectorAll('#detail dt')].map(dt => dt.textContent).filter(name => !name.startsWith('Network '))",
    )
    .await
}

async fn ids_shown(page: &Page) -> Vec<String> {
    eval(page, "[...document.querySelectorAll('#container-table tbody tr[data-id]')].map(tr => tr.dataset.id)").await
}

/// Saves the page in `target/test-artifacts/` (PostgreSQL's run in its
/// `postgres/` folder).
async fn screenshot(page: &Page, backend: Backend, name: &str) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut folder = workspace.join("target/test-artifacts");
    if backend == Backend::Postgres {
        folder.push("postgres");
    }
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(name);
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path)
        .await
        .unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// Until the roll call names three live replicas and one leader.
async fn wait_for_roll_call(http: &reqwest::Client, store: &str) {
    let started = Instant::now();
    loop {
        let replicas: Value = http
            .get(format!("{store}/replicas"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = replicas["items"].as_array().unwrap();
        let alive = items.iter().filter(|item| item["alive"] == true).count();
        let leaders = items.iter().filter(|item| item["role"] == "leader").count();
        if alive == 3 && leaders == 1 {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "no roll call of three with a leader: {replicas}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Containers on two nodes, one with a history of four snapshots, and last
/// (so on the first page) one with a hostile name and labels.
async fn post_containers(http: &reqwest::Client, store: &str) {
    let mut batch: Vec<Value> = (0..CONTAINERS)
        .map(|n| {
            let mut posted = snapshot(n, &at(0));
            posted["node"] = json!(if n % 3 == 0 { "node-2" } else { "node-1" });
            posted
        })
        .collect();
    for (second, cpu, memory) in [(10, 12.5, 60), (20, 48.0, 75), (30, 20.0, 70)] {
        let mut later = snapshot(7, &at(second));
        later["node"] = json!("node-1");
        later["service"] = json!("shop_web");
        later["task"] = json!("shop_web.1.x3k9");
        later["stack"] = json!("shop");
        later["stats"]["cpu_percent"] = json!(cpu);
        later["stats"]["memory_usage_bytes"] = json!(memory * 1024 * 1024);
        batch.push(later);
    }
    post(http, store, &Value::Array(batch)).await;
    let mut hostile = snapshot(CONTAINERS, &at(40));
    hostile["name"] = json!(HOSTILE);
    hostile["labels"] = json!({ "\"><img src=x onerror=\"window.pwned = 3\">": "<script>window.pwned = 4</script>" });
    post(http, store, &hostile).await;
}

/// Now, as an agent writes `reported_at`.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// An agent that reports its node every [`SHORT_INTERVAL_MS`] until aborted.
async fn agent_reporting(http: reqwest::Client, store: String, node: &'static str) {
    loop {
        post_node(&http, &store, &node_report(node, SHORT_INTERVAL_MS, &now())).await;
        tokio::time::sleep(Duration::from_millis(SHORT_INTERVAL_MS)).await;
    }
}

async fn post_node(http: &reqwest::Client, store: &str, report: &Value) {
    post_to(http, &format!("{store}/nodes"), report).await;
}

async fn post(http: &reqwest::Client, store: &str, body: &Value) {
    post_to(http, &format!("{store}/containers"), body).await;
}

async fn post_to(http: &reqwest::Client, url: &str, body: &Value) {
    let response = http.post(url).json(body).send().await.unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap()
    );
}
