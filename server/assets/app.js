// The status page's script: keeps the server-rendered page (replicas, nodes,
// containers) current from the store's public JSON API (the same routes every
// other reader uses), pages by cursor in place, and opens a container's
// detail and history. Everything a snapshot or a node's report says goes into
// the page as text (textContent, attributes), never as markup.
"use strict";

const REFRESH_MS = 3000;
const HISTORY_LIMIT = 120;
const SVG = "http://www.w3.org/2000/svg";

const page = {
  protected: document.body.dataset.protected === "true",
  pageSize: document.body.dataset.pageSize,
  token: sessionStorage.getItem("container-info-token"),
  filters: new URLSearchParams(),
  // Cursors of the pages before this one, so "Previous" can step back.
  cursors: [],
  cursor: null,
  nextCursor: null,
  selected: null,
  timer: null,
  // Counts refreshes, so that an older one that answers late is dropped
  // instead of drawing a page the reader has left.
  refreshes: 0,
};

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (page.token) headers.Authorization = "Bearer " + page.token;
  const response = await fetch(path, { headers, cache: "no-store" });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new HttpError(response.status, (body && body.error) || response.statusText);
  }
  return body;
}

function shortTime(iso) {
  return iso ? iso.replace(/\.\d+/, "").replace("T", " ") : "";
}

function age(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return seconds < 60 ? seconds.toFixed(1) + " s ago" : Math.round(seconds / 60) + " min ago";
}

// As the server says it (page.rs, `interval`).
function interval(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 60000 || ms % 60000 !== 0) return ms / 1000 + " s";
  return ms / 60000 + " min";
}

function mib(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1) + " MiB";
}

function setStatus(text, failed) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(failed));
}

// The replicas

function renderReplicas(replicas) {
  const rows = replicas.items.map((item) =>
    el("tr", { "data-role": item.role },
      el("td", {}, item.id),
      el("td", {}, el("span", { class: "badge " + item.role }, item.role)),
      el("td", {}, item.alive ? "yes" : el("span", { class: "error" }, "no")),
      el("td", { title: item.last_heartbeat_at }, age(item.last_heartbeat_at)),
      el("td", {}, item.addresses.join(", ")),
      el("td", {}, item.version),
      el("td", {}, shortTime(item.started_at))));
  document.querySelector("#replica-table tbody").replaceChildren(...rows);
  const lease = replicas.lease;
  document.getElementById("lease").textContent =
    "Lease: " + (lease.holder ? "held by " + lease.holder : "not held") +
    ", generation " + lease.generation + ", transitions " + lease.transitions +
    ", duration " + lease.duration_seconds + " s";
}

// The nodes

// The status in words, not by colour alone (as page.rs, `node_status`).
function nodeStatus(status) {
  return status === "stale"
    ? el("span", { class: "badge stale", title: "Its agent stopped reporting: what the page shows of it may be out of date" }, "stale")
    : el("span", { class: "badge up" }, status);
}

function renderNodes(nodes) {
  const rows = nodes.items.map((node) =>
    el("tr", { "data-node": node.name, "data-status": node.status },
      el("td", {}, el("a", { href: "/?" + new URLSearchParams({ node: node.name }) }, node.name)),
      el("td", {}, nodeStatus(node.status)),
      el("td", { class: "num" }, node.containers),
      el("td", { title: node.last_report_at }, age(node.last_report_at)),
      el("td", {}, node.agent_version),
      el("td", { class: "num" }, interval(node.report_interval_ms))));
  if (rows.length === 0) {
    rows.push(el("tr", { class: "empty" }, el("td", { colspan: 6 }, "No agent has reported its node.")));
  }
  document.querySelector("#node-table tbody").replaceChildren(...rows);
}

// The containers

function containersPath() {
  const query = new URLSearchParams(page.filters);
  query.set("limit", page.pageSize);
  if (page.cursor) query.set("cursor", page.cursor);
  return "/containers?" + query;
}

function renderContainers(result) {
  const rows = result.items.map((item) => {
    const stats = item.stats;
    const stale = item.node_status === "stale";
    const classes = [item.id === page.selected ? "selected" : "", stale ? "stale-node" : ""].join(" ").trim();
    const row = el("tr", { "data-id": item.id, class: classes || null },
      el("td", {}, el("a", { class: "open", href: "/containers/" + item.id }, item.name)),
      el("td", {}, el("span", { class: "state " + item.state }, item.state)),
      el("td", {}, item.node, stale ? " " : null, stale ? nodeStatus("stale") : null),
      el("td", {}, item.image),
      el("td", { class: "num" }, stats ? stats.cpu_percent.toFixed(1) + " %" : ""),
      el("td", { class: "num" }, stats ? mib(stats.memory_usage_bytes) : ""),
      el("td", {}, shortTime(item.observed_at)),
      el("td", { class: "mono" }, item.id.slice(0, 12)));
    return row;
  });
  if (rows.length === 0) {
    rows.push(el("tr", { class: "empty" }, el("td", { colspan: 8 }, "No containers match.")));
  }
  document.querySelector("#container-table tbody").replaceChildren(...rows);
  page.nextCursor = result.next_cursor;
  renderPager();
}

function renderPager() {
  const pager = document.querySelector("nav.pager");
  const buttons = [];
  if (page.cursors.length > 0) {
    const previous = el("button", { type: "button", id: "previous-page", class: "plain" }, "Previous page");
    previous.addEventListener("click", () => {
      page.cursor = page.cursors.pop();
      refresh();
    });
    buttons.push(previous);
  }
  if (page.nextCursor) {
    const next = el("button", { type: "button", id: "next-page", class: "plain" }, "Next page");
    next.addEventListener("click", () => {
      page.cursors.push(page.cursor);
      page.cursor = page.nextCursor;
      refresh();
    });
    buttons.push(next);
  }
  const shown = page.cursors.length + 1;
  buttons.push(el("span", { class: "muted", id: "page-number" }, "page " + shown));
  pager.replaceChildren(...buttons);
}

function readFilters() {
  const form = document.getElementById("filters");
  const filters = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (value.trim() !== "") filters.append(name, value.trim());
  }
  return filters;
}

function applyFilters() {
  page.filters = readFilters();
  page.cursors = [];
  page.cursor = null;
  // The address keeps the filters, so a reload (or a copied link) shows the same.
  const query = page.filters.toString();
  history.replaceState(null, "", query ? "/?" + query : "/");
  refresh();
}

// One container: its record, history and charts

function chart(title, className, points, format) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  for (const y of [0, 50, 100]) {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", 0);
    line.setAttribute("x2", 300);
    line.setAttribute("y1", y);
    line.setAttribute("y2", y);
    svg.append(line);
  }
  const values = points.map((point) => point.value);
  const top = Math.max(...values, 0) || 1;
  if (points.length > 0) {
    const first = points[0].time;
    const span = points[points.length - 1].time - first || 1;
    const polyline = document.createElementNS(SVG, "polyline");
    polyline.setAttribute("class", className);
    polyline.setAttribute("points", points.map((point) => {
      const x = points.length === 1 ? 150 : ((point.time - first) / span) * 300;
      const y = 100 - (point.value / top) * 96;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" "));
    svg.append(polyline);
  }
  const latest = values.length ? format(values[values.length - 1]) : "no samples";
  const span = points.length ? ", " + shortTime(new Date(points[0].time).toISOString()) +
    " to " + shortTime(new Date(points[points.length - 1].time).toISOString()) : "";
  return el("div", { class: "chart" },
    el("h3", {}, title + ": " + latest),
    svg,
    el("p", { class: "muted" }, "max " + format(top) + ", " + points.length + " samples" + span));
}

function renderDetail(record, history) {
  const detail = document.getElementById("detail");
  const close = el("button", { type: "button", class: "plain", id: "close-detail" }, "Close");
  close.addEventListener("click", () => {
    page.selected = null;
    detail.hidden = true;
    document.querySelectorAll("#container-table tr.selected").forEach((row) => row.classList.remove("selected"));
  });
  const fields = [
    ["ID", record.id], ["Image", record.image], ["Image ID", record.image_id],
    ["Node", record.node + (record.node_status ? " (" + record.node_status + ")" : "")],
    ["Service", record.service], ["Task", record.task], ["Stack", record.stack],
    ["State", record.state], ["Created", shortTime(record.created)],
    ["Started", shortTime(record.started_at)], ["Observed", shortTime(record.observed_at)],
    ["Received", shortTime(record.received_at) + " by " + record.received_by + " from " + record.reporter_addr],
    ["Attested by", record.attested_by || "no agent's signature"],
  ];
  const list = el("dl", {});
  // Service, task and stack are a Swarm task's only.
  const optional = ["Service", "Task", "Stack"];
  for (const [name, value] of fields) {
    if (!value && optional.includes(name)) continue;
    list.append(el("dt", {}, name), el("dd", {}, value || ""));
  }
  for (const [network, address] of Object.entries(record.networks || {})) {
    list.append(el("dt", {}, "Network " + network),
      el("dd", {}, [address.ip_address, address.ipv6_address, "gateway " + address.gateway].filter(Boolean).join(", ")));
  }
  const labels = Object.entries(record.labels || {});
  const labelTable = labels.length === 0 ? el("p", { class: "muted" }, "No labels.") :
    el("div", { class: "scroll" }, el("table", { class: "labels" },
      el("tbody", {}, ...labels.map(([key, value]) => el("tr", {}, el("td", {}, key), el("td", {}, value))))));
  // The API answers newest first; the charts read left to right.
  const samples = history.items.filter((item) => item.stats).reverse()
    .map((item) => ({ time: Date.parse(item.observed_at), stats: item.stats }));
  const cpu = samples.map((sample) => ({ time: sample.time, value: sample.stats.cpu_percent }));
  const memory = samples.map((sample) => ({ time: sample.time, value: sample.stats.memory_usage_bytes }));
  const historyRows = history.items.map((item) => el("tr", {},
    el("td", {}, shortTime(item.observed_at)),
    el("td", {}, item.state),
    el("td", { class: "num" }, item.stats ? item.stats.cpu_percent.toFixed(1) + " %" : ""),
    el("td", { class: "num" }, item.stats ? mib(item.stats.memory_usage_bytes) : "")));
  detail.replaceChildren(
    el("header", {}, el("h2", {}, record.name), close),
    list,
    el("h3", {}, "Labels"), labelTable,
    el("div", { class: "charts" },
      chart("CPU", "cpu", cpu, (value) => value.toFixed(1) + " %"),
      chart("Memory", "memory", memory, mib)),
    el("h3", {}, "History (newest first, up to " + HISTORY_LIMIT + ")"),
    el("div", { class: "scroll" }, el("table", { id: "history-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Observed"), el("th", {}, "State"),
        el("th", { class: "num" }, "CPU"), el("th", { class: "num" }, "Memory"))),
      el("tbody", {}, ...historyRows))));
  detail.hidden = false;
}

async function loadDetail(id) {
  const [record, history] = await Promise.all([
    api("/containers/" + id),
    api("/containers/" + id + "/history?limit=" + HISTORY_LIMIT),
  ]);
  if (page.selected === id) renderDetail(record, history);
}

function openDetail(id) {
  page.selected = id;
  const detail = document.getElementById("detail");
  // Not the previous container's record while this one loads.
  detail.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  detail.hidden = false;
  document.querySelectorAll("#container-table tbody tr").forEach((row) =>
    row.classList.toggle("selected", row.dataset.id === id));
  loadDetail(id).then(() => document.getElementById("detail").scrollIntoView({ block: "nearest" }))
    .catch((error) => setStatus("Cannot read the container: " + error.message, true));
}

// Refreshing

async function refresh() {
  clearTimeout(page.timer);
  // A page left open in a background tab costs the store nothing; it catches
  // up when shown again.
  if (document.hidden) return;
  const current = ++page.refreshes;
  const readable = !page.protected || page.token;
  try {
    const [replicas, nodes, containers] = await Promise.all([
      api("/replicas"),
      readable ? api("/nodes") : null,
      readable ? api(containersPath()) : null,
    ]);
    if (current !== page.refreshes) return;
    renderReplicas(replicas);
    if (containers) {
      showReadable(true);
      renderNodes(nodes);
      renderContainers(containers);
    }
    if (page.selected) await loadDetail(page.selected);
    setStatus("Updated " + new Date().toLocaleTimeString() + ", every " + REFRESH_MS / 1000 + " s");
  } catch (error) {
    if (current !== page.refreshes) return;
    if (error.status === 401 && page.protected) {
      page.token = null;
      sessionStorage.removeItem("container-info-token");
      askForToken();
      setStatus("The store refused the token: " + error.message, true);
    } else {
      setStatus("Cannot reach the store (" + error.message + "); trying again", true);
    }
  }
  page.timer = setTimeout(refresh, REFRESH_MS);
}

// What a protected store shows only to a holder of its token, or the form
// that asks for it.
function showReadable(readable) {
  document.getElementById("nodes").hidden = !readable;
  document.getElementById("containers").hidden = !readable;
  const access = document.getElementById("access");
  if (access) access.hidden = readable;
}

function askForToken() {
  showReadable(false);
  document.getElementById("token-form").hidden = false;
}

function start() {
  const form = document.getElementById("filters");
  page.filters = readFilters();
  page.cursor = new URLSearchParams(location.search).get("cursor");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });
  let typing = null;
  document.getElementById("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, 300);
  });
  document.querySelector("#container-table tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (!row) return;
    event.preventDefault();
    openDetail(row.dataset.id);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  if (page.protected) {
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      page.token = document.getElementById("token").value.trim();
      sessionStorage.setItem("container-info-token", page.token);
      refresh();
    });
    if (!page.token) askForToken();
  }
  refresh();
}

start();
