// AgentPod dashboard: live updates on top of server-rendered pages. Regions marked data-live
// are fetched again (the page itself) when the event stream says something happened, and every
// few seconds; a pod's log follows its stream. Forms work without this file.
"use strict";

const REFRESH_MS = 5000;
const MAX_LINES = 2000;

function liveRegions() {
  return Array.from(document.querySelectorAll("[data-live][id]"));
}

let refreshing = false;
let again = false;

async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
    if (response.redirected && new URL(response.url).pathname === "/login") {
      location.assign(response.url);
      return;
    }
    if (response.status === 404) { location.reload(); return; }
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const region of liveRegions()) {
      const fresh = doc.getElementById(region.id);
      if (fresh && fresh.innerHTML !== region.innerHTML) region.innerHTML = fresh.innerHTML;
    }
  } catch (err) {
    // offline for a moment: the next tick tries again
  } finally {
    refreshing = false;
    if (again) { again = false; refresh(); }
  }
}

let timer = null;
function soon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 100);
}

const streams = [];
function open(url, onOpen) {
  const source = new EventSource(url);
  streams.push(source);
  if (onOpen) source.addEventListener("open", onOpen);
  return source;
}

function followEvents() {
  const main = document.getElementById("main");
  if (!main.dataset.stream || !liveRegions().length) return;
  const source = open(main.dataset.stream);
  source.addEventListener("event", soon);
  source.addEventListener("error", soon);
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

// The log follows the pod through its containers (the server waits while it has none).
function followLog() {
  const list = document.querySelector("[data-log]");
  if (!list) return;
  const state = document.querySelector("[data-log-state]");
  const pause = document.querySelector("[data-log-pause]");
  const search = document.querySelector("[data-log-search]");
  let paused = false;
  let held = [];
  const matches = (li) => !search.value || li.textContent.toLowerCase().includes(search.value.toLowerCase());
  const add = (text) => {
    const li = document.createElement("li");
    li.textContent = text;
    li.hidden = !matches(li);
    list.append(li);
    while (list.children.length > MAX_LINES) list.firstElementChild.remove();
  };
  const source = open(list.dataset.log, () => { state.textContent = "waiting for the container"; });
  source.addEventListener("reset", () => {
    list.replaceChildren();
    held = [];
    state.textContent = paused ? "paused" : "following";
  });
  source.addEventListener("message", (e) => {
    if (paused) { held.push(e.data); return; }
    add(e.data);
    list.scrollTop = list.scrollHeight;
  });
  source.addEventListener("gone", () => { source.close(); state.textContent = "the pod is gone"; });
  source.addEventListener("error", () => { state.textContent = "reconnecting…"; });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    state.textContent = paused ? "paused" : "following";
    if (!paused) { held.forEach(add); held = []; list.scrollTop = list.scrollHeight; }
  });
  search.addEventListener("input", () => {
    for (const li of list.children) li.hidden = !matches(li);
  });
}

function confirmForms() {
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { e.preventDefault(); return; }
    const busy = form.querySelector(".busy");
    if (form.dataset.busy && busy) {
      busy.textContent = form.dataset.busy;
      form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    }
  });
}

window.addEventListener("pagehide", () => streams.forEach((s) => s.close()));
document.addEventListener("DOMContentLoaded", () => {
  confirmForms();
  followEvents();
  followLog();
});
