use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestStore, at, both_backends, container_id, snapshot, spawn_store};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn post_variety(store: &TestStore) {
    let mut batch = Vec::new();
    for n in 0..6u64 {
        let mut s = snapshot(n, &at(n as u32));
        s["node"] = json!(if n % 2 == 0 { "node-a" } else { "node-b" });
        s["image"] = json!(if n < 3 { "web:1" } else { "db:2" });
        s["state"] = json!(if n == 5 { "exited" } else { "running" });
        s["name"] = json!(format!("shop_{}_{n}", if n < 3 { "web" } else { "db" }));
        s["labels"] = json!({"tier": if n < 3 { "front" } else { "back" }, "team.name": format!("t{}", n % 3)});
        batch.push(s);
    }
    store.store(&json!(batch)).await;
}

async fn the_list_holds_the_latest_of_each_container_newest_first(backend: Backend) {
    let store = spawn_store(backend).await;
    for n in 0..3 {
        store.store(&snapshot(n, &at(n as u32))).await;
    }
    // Container 0 reports again: it becomes the most recently updated.
    store.store(&snapshot(0, &at(50))).await;

    let page = store.get_json("/containers").await;

    assert_eq!(
        ids(&page),
        [container_id(0), container_id(2), container_id(1)]
    );
    assert_eq!(page["items"][0]["observed_at"], at(50));
    assert_eq!(page["next_cursor"], Value::Null);
}

async fn every_filter_narrows_the_list(backend: Backend) {
    let store = spawn_store(backend).await;
    post_variety(&store).await;
    let cases: [(&str, &[u64]); 8] = [
        ("node=node-a", &[4, 2, 0]),
        ("image=db:2", &[5, 4, 3]),
        ("state=exited", &[5]),
        ("name=web", &[2, 1, 0]),
        ("label=tier=back", &[5, 4, 3]),
        ("label=team.name=t1", &[4, 1]),
        ("label=tier=front&label=team.name=t0", &[0]),
        ("node=node-b&image=web:1&state=running", &[1]),
    ];
    for (query, expected) in cases {
        let page = store.get_json(&format!("/containers?{query}")).await;
        let expected: Vec<_> = expected.iter().map(|n| container_id(*n)).collect();
        assert_eq!(ids(&page), expected, "{query}");
    }
    let none = store.get_json("/containers?label=tier=nowhere").await;
    assert!(ids(&none).is_empty());
}

async fn pages_follow_each_other_without_gaps_or_repeats(backend: Backend) {
    let store = spawn_store(backend).await;
    let batch: Vec<_> = (0..25).map(|n| snapshot(n, &at(n as u32))).collect();
    store.store(&json!(batch)).await;

    let mut seen = Vec::new();
    let mut path = "/containers?limit=10&node=node-1".to_owned();
    let mut sizes = Vec::new();
    loop {
        let page = store.get_json(&path).await;
        sizes.push(ids(&page).len());
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/containers?limit=10&node=node-1&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(sizes, [10, 10, 5]);
    let expected: Vec<_> = (0..25).rev().map(container_id).collect();
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);
}

async fn the_default_page_is_a_hundred(backend: Backend) {
    let store = spawn_store(backend).await;
    let batch: Vec<_> = (0..101).map(|n| snapshot(n, &at(0))).collect();
    store.store(&json!(batch)).await;

    let page = store.get_json("/containers").await;

    assert_eq!(ids(&page).len(), 100);
    let rest = store
        .get_json(&format!(
            "/containers?cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids(&rest), [container_id(0)]);
}

async fn a_removed_container_leaves_the_list_keeps_its_history_and_is_listed_by_state(
    backend: Backend,
) {
    let store = spawn_store(backend).await;
    store.store(&snapshot(0, &at(0))).await;
    store.store(&snapshot(1, &at(1))).await;
    let mut removed = snapshot(1, &at(2));
    removed["state"] = json!("removed");
    removed["stats"] = Value::Null;
    store.store(&removed).await;

    assert_eq!(ids(&store.get_json("/containers").await), [container_id(0)]);
    assert_eq!(
        ids(&store.get_json("/containers?state=removed").await),
        [container_id(1)]
    );
    let one = store
        .get_json(&format!("/containers/{}", container_id(1)))
        .await;
    assert_eq!(
        one["state"], "removed",
        "a removed container is still found by ID"
    );
    let history = store
        .get_json(&format!("/containers/{}/history", container_id(1)))
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);

    // Back on the host (its agent reports it again under the same ID, as after
    // an engine's restore): it is current again.
    store.store(&snapshot(1, &at(3))).await;
    assert_eq!(
        ids(&store.get_json("/containers").await),
        [container_id(1), container_id(0)]
    );
}

async fn swarm_tasks_are_listed_by_service_and_by_stack(backend: Backend) {
    let store = spawn_store(backend).await;
    let task = |n: u64, service: &str, stack: Option<&str>| {
        let mut body = snapshot(n, &at(n as u32));
        body["service"] = json!(service);
        body["task"] = json!(format!("{service}.{n}.x{n}"));
        if let Some(stack) = stack {
            body["stack"] = json!(stack);
        }
        body
    };
    store
        .store(&json!([
            task(0, "shop_web", Some("shop")),
            task(1, "shop_db", Some("shop")),
            task(2, "lone", None),
            snapshot(3, &at(3)),
        ]))
        .await;
    assert_eq!(
        ids(&store.get_json("/containers?service=shop_web").await),
        [container_id(0)]
    );
    assert_eq!(
        ids(&store.get_json("/containers?stack=shop").await),
        [container_id(1), container_id(0)]
    );
    assert_eq!(
        ids(&store
            .get_json("/containers?stack=shop&service=shop_db")
            .await),
        [container_id(1)]
    );
    assert!(ids(&store.get_json("/containers?service=web").await).is_empty());
    let one = store
        .get_json(&format!("/containers/{}", container_id(0)))
        .await;
    assert_eq!(
        (&one["service"], &one["task"], &one["stack"]),
        (&json!("shop_web"), &json!("shop_web.0.x0"), &json!("shop"))
    );
    let plain = store
        .get_json(&format!("/containers/{}", container_id(3)))
        .await;
    assert!(plain.get("service").is_none(), "{plain}");

    // A later snapshot moves the container out of its service's list.
    store.store(&snapshot(0, &at(10))).await;
    assert!(ids(&store.get_json("/containers?service=shop_web").await).is_empty());
}

both_backends!(
    the_list_holds_the_latest_of_each_container_newest_first,
    every_filter_narrows_the_list,
    pages_follow_each_other_without_gaps_or_repeats,
    the_default_page_is_a_hundred,
    a_removed_container_leaves_the_list_keeps_its_history_and_is_listed_by_state,
    swarm_tasks_are_listed_by_service_and_by_stack,
);
