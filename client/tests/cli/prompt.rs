//! The prompt, driven through a real pseudo-terminal as a person would.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};
use serde_json::Value;

use crate::helpers::*;

const PROMPT: &str = "container-info> ";
const UP_ARROW: &str = "\x1b[A";

fn open_prompt(store: &str, agent: &str, data: &Path, args: &[&str]) -> PtySession {
    let mut command = Command::new(CLIENT);
    command
        .args(args)
        .env("CONTAINER_INFO_SERVER", store)
        .env("CONTAINER_INFO_AGENT", agent)
        .env_remove("CONTAINER_INFO_SERVICE")
        // The history goes to the user's data folder: a temp one here.
        .env("XDG_DATA_HOME", data)
        .env("HOME", data)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut session = spawn_command(command, Some(10_000)).expect("the prompt starts");
    session.exp_string(PROMPT).expect("the prompt shows");
    session
}

/// Types a line and returns what the screen showed from the end of that line
/// to the next prompt. (While a line is typed, the prompt is drawn again with
/// each key, so only the newline that accepts it tells where the output begins.)
fn enter(session: &mut PtySession, line: &str) -> String {
    session.send_line(line).unwrap();
    accepted(session);
    session
        .exp_string(PROMPT)
        .unwrap_or_else(|error| panic!("no prompt after {line:?}: {error}"))
}

/// Keys typed without Enter.
fn type_keys(session: &mut PtySession, keys: &str) {
    session.send(keys).unwrap();
    session.flush().unwrap();
}

fn accepted(session: &mut PtySession) {
    session.exp_string("\r\n").expect("the line is accepted");
}

fn leave(mut session: PtySession, how: &str) {
    session.send_line(how).unwrap();
    session.exp_eof().unwrap();
    assert!(matches!(
        session.process().wait().unwrap(),
        WaitStatus::Exited(_, 0)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_at_the_prompt() {
    let (store, agent) = (
        spawn_store(Backend::Sqlite).await,
        spawn_agent_for(40).await,
    );
    let data = tempfile::tempdir().unwrap();
    let (store_url, agent_url, folder) =
        (store.url.clone(), agent.url.clone(), data.path().to_owned());
    let id = container_id(40);

    let screens = tokio::task::spawn_blocking(move || {
        let mut session = open_prompt(&store_url, &agent_url, &folder, &[]);
        let mut screens = vec![];
        for line in ["help", "whoami", "post", "get", "gte", "nodes"] {
            screens.push(enter(&mut session, line));
        }
        // A hint completes the command being typed; Ctrl-C drops the line.
        type_keys(&mut session, "po");
        session.exp_string("st").unwrap();
        type_keys(&mut session, "st");
        session.send_control('c').unwrap();
        accepted(&mut session);
        session.exp_string(PROMPT).unwrap();
        // Tab completes the command word.
        type_keys(&mut session, "hi\t");
        screens.push(enter(&mut session, &format!(" {}", &container_id(40)[..6])));
        leave(session, "exit");
        screens
    })
    .await
    .unwrap();

    let [help, whoami, post, get, unknown, nodes, history] = &screens[..] else {
        panic!("{screens:?}");
    };
    assert!(help.contains("Commands:"), "{help}");
    for command in [
        "post", "get", "history", "nodes", "whoami", "ping", "help", "exit", "quit",
    ] {
        assert!(
            help.contains(&format!("  {command} ")),
            "{command} missing: {help}"
        );
    }
    assert!(
        whoami.contains(&id) && whoami.contains("web-40"),
        "{whoami}"
    );
    assert!(!whoami.contains("Replica"), "{whoami}");
    assert!(post.contains(&id) && post.contains(REPLICA), "{post}");
    assert!(
        get.contains("CONTAINER ID") && get.contains(&id[..12]),
        "{get}"
    );
    assert!(!get.contains(&id[..13]), "{get}");
    assert!(
        unknown.contains("unknown command \"gte\"; did you mean \"get\"?"),
        "{unknown}"
    );
    assert!(
        unknown.contains("post, get, history, nodes, whoami, ping, help, exit, quit"),
        "{unknown}"
    );
    assert!(
        history.contains("OBSERVED") && history.contains(REPLICA),
        "{history}"
    );
    assert!(
        nodes.contains("no nodes: no agent reports to this store"),
        "{nodes}"
    );

    // whoami and post asked the agent; the cancelled "post" did not.
    assert_eq!(agent.self_calls(), 2);
    let stored = store.containers().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].snapshot.id.as_str(), id);
    assert_eq!(stored[0].received_by, REPLICA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_come_a_page_at_a_time() {
    let store = spawn_store(Backend::Sqlite).await;
    let many: Vec<Value> = (0..45).map(|n| snapshot(n, &at(0))).collect();
    store.store(&Value::Array(many)).await;
    let data = tempfile::tempdir().unwrap();
    let (store_url, folder) = (store.url.clone(), data.path().to_owned());

    let (first, rest) = tokio::task::spawn_blocking(move || {
        let mut session = open_prompt(&store_url, &nothing_listens(), &folder, &[]);
        session.send_line("get").unwrap();
        accepted(&mut session);
        let first = session.exp_string("more?").unwrap();
        // q stops the list and gives the prompt back.
        enter(&mut session, "q");
        session.send_line("get").unwrap();
        accepted(&mut session);
        let mut rest = session.exp_string("more?").unwrap();
        loop {
            session.send_line("").unwrap();
            accepted(&mut session);
            let (shown, matched) = session.exp_regex(r"more\?|container-info> ").unwrap();
            rest.push_str(&shown);
            if matched.starts_with("container-info") {
                break;
            }
        }
        leave(session, "quit");
        (first, rest)
    })
    .await
    .unwrap();

    let shown = |screen: &str| {
        (0..45)
            .filter(|n| screen.contains(&container_id(*n)[..12]))
            .count()
    };
    let on_first_page = shown(&first);
    assert!((1..45).contains(&on_first_page), "{first}");
    assert_eq!(shown(&rest), 45, "{rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_survives_a_restart_unless_turned_off() {
    let agent = spawn_agent_for(41).await;
    let data = tempfile::tempdir().unwrap();
    let (agent_url, folder) = (agent.url.clone(), data.path().to_owned());
    let store_url = nothing_listens();

    let again = tokio::task::spawn_blocking(move || {
        let mut first = open_prompt(&store_url, &agent_url, &folder, &[]);
        enter(&mut first, "whoami");
        leave(first, "exit");
        let file = std::fs::read_to_string(folder.join("container-info/history")).unwrap();
        assert!(file.lines().any(|line| line == "whoami"), "{file}");

        let mut second = open_prompt(&store_url, &agent_url, &folder, &[]);
        let again = enter(&mut second, UP_ARROW);
        leave(second, "exit");

        let mut third = open_prompt(&store_url, &agent_url, &folder, &["--no-history"]);
        enter(&mut third, UP_ARROW);
        leave(third, "exit");
        again
    })
    .await
    .unwrap();

    assert!(again.contains("web-41"), "{again}");
    // whoami once, recalled once; nothing recalled with --no-history.
    assert_eq!(agent.self_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_gives_the_prompt_back_while_a_request_is_under_way() {
    let agent = spawn_agent_after(Duration::from_secs(4), 200, snapshot(42, &at(0))).await;
    let data = tempfile::tempdir().unwrap();
    let (agent_url, folder) = (agent.url.clone(), data.path().to_owned());

    let (said, waited) = tokio::task::spawn_blocking(move || {
        let mut session = open_prompt(&nothing_listens(), &agent_url, &folder, &[]);
        session.send_line("whoami").unwrap();
        accepted(&mut session);
        std::thread::sleep(Duration::from_millis(300));
        let interrupted = Instant::now();
        session.send_control('c').unwrap();
        let said = session.exp_string(PROMPT).unwrap();
        let waited = interrupted.elapsed();
        let help = enter(&mut session, "help");
        assert!(help.contains("Commands:"), "the prompt still works: {help}");
        leave(session, "exit");
        (said, waited)
    })
    .await
    .unwrap();

    assert!(said.contains("cancelled"), "{said}");
    assert!(!said.contains("web-42"), "{said}");
    // Well before the agent would have answered (4 s) or the client given up (5 s).
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(agent.self_calls(), 1);
}

/// Runs a one-shot command on a pseudo-terminal and returns all it showed.
pub(crate) fn on_a_terminal(store: &str, args: &[&str], no_color: Option<&str>) -> String {
    let mut command = Command::new(CLIENT);
    command
        .args(args)
        .env("CONTAINER_INFO_SERVER", store)
        .env_remove("NO_COLOR");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let mut session = spawn_command(command, Some(10_000)).unwrap();
    session.exp_eof().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_on_a_terminal_and_without_no_color() {
    let store = spawn_store(Backend::Sqlite).await;
    store.store(&snapshot(43, &at(0))).await;
    let url = store.url.clone();

    let (coloured, plain, empty_no_color) = tokio::task::spawn_blocking(move || {
        (
            on_a_terminal(&url, &["get"], None),
            on_a_terminal(&url, &["get"], Some("1")),
            on_a_terminal(&url, &["get"], Some("")),
        )
    })
    .await
    .unwrap();

    assert!(
        coloured.contains("\x1b[1mCONTAINER ID\x1b[0m"),
        "{coloured:?}"
    );
    assert!(coloured.contains("\x1b[32mrunning\x1b[0m"), "{coloured:?}");
    assert!(
        plain.contains("CONTAINER ID") && !plain.contains('\x1b'),
        "{plain:?}"
    );
    // An empty NO_COLOR does not opt out (no-color.org).
    assert!(
        empty_no_color.contains("\x1b[32mrunning"),
        "{empty_no_color:?}"
    );
}
