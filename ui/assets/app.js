// spano's media library page. Everything that comes from the repository
// (filenames, URLs) is put in the page with textContent or as attribute
// values through the DOM, never as markup. Requests to the endpoint carry
// the session cookie and its CSRF token; no token is stored in the page.
"use strict";

// gen counts reloads: a page that arrives after a newer reload began is
// dropped, so quick filter changes or uploads finishing together never mix.
const state = { session: null, after: "", items: new Map(), current: null, gen: 0 };
const $ = (id) => document.getElementById(id);

const signInErrors = {
  "token-missing": "Type a token to sign in.",
  "token-refused": "That token was refused: it is unknown, expired, or for another site.",
  "token-scope": "That token may not upload: it lacks the media or create scope.",
  "unavailable": "The sign-in server could not be reached. Try again in a moment.",
  "state": "That sign-in had expired or was already used. Please sign in again.",
  "indieauth-refused": "Your website's sign-in server refused, or signed in someone else than this site's owner.",
  "busy": "Too many sign-ins are in progress. Try again in a few minutes.",
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c); // strings become text nodes
  return e;
}

function notice(text) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = !text;
}

function humanSize(n) {
  if (n < 1000) return n + " B";
  const units = ["kB", "MB", "GB"];
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < units.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + " " + units[i];
}

// local maps a URL on the site to the copy spano serves the session, so
// thumbnails show before the site deploys.
function local(u) {
  const s = state.session;
  if (u && s.site_media && u.startsWith(s.site_media)) return s.local_media + u.slice(s.site_media.length);
  return u;
}

async function api(method, params, body) {
  const url = state.session.endpoint + (params ? "?" + new URLSearchParams(params) : "");
  const headers = { "X-CSRF-Token": state.session.csrf };
  if (body) headers["Content-Type"] = "application/x-www-form-urlencoded";
  const resp = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(describe(resp.status, data));
  return data;
}

function describe(status, data) {
  const why = data && data.error_description ? data.error_description : "";
  switch (status) {
    case 401: return "Your session has ended: sign in again.";
    case 403: return "Refused: " + (why || "this session may not do that.");
    case 413: return "Too large: " + (why || "the file is bigger than this site accepts.");
    case 415: return "Not accepted: " + (why || "this type of file cannot be uploaded.");
    case 422: return "Could not use this file: " + (why || "it is damaged or refused.");
    case 503: return "Not available right now, try again later" + (why ? ": " + why : ".");
    case 0: return "The connection failed.";
  }
  return "Failed (" + status + ")" + (why ? ": " + why : ".");
}

async function start() {
  const err = new URLSearchParams(location.search).get("error");
  if (err) {
    notice(signInErrors[err] || "Sign-in failed.");
    history.replaceState(null, "", location.pathname);
  }
  const resp = await fetch("session", { credentials: "same-origin" });
  state.session = await resp.json();
  if (!state.session.signed_in) {
    $("signin").hidden = false;
    $("indieauth-box").hidden = !state.session.indieauth;
    return;
  }
  $("me").textContent = state.session.me;
  $("who").hidden = false;
  $("library").hidden = false;
  wireUpload();
  $("filter").addEventListener("change", () => reload());
  $("more").addEventListener("click", () => loadPage());
  $("signout").addEventListener("click", signOut);
  wireDetail();
  await reload();
}

async function signOut() {
  await fetch("signout", { method: "POST", headers: { "X-CSRF-Token": state.session.csrf }, credentials: "same-origin" });
  location.replace(location.pathname);
}

// ---- upload ----

function wireUpload() {
  const drop = $("drop");
  $("picker").addEventListener("change", (e) => { uploadAll(e.target.files); e.target.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    uploadAll(e.dataTransfer.files);
  });
}

const queue = [];
let running = 0;
const parallel = 2;

function uploadAll(files) {
  for (const f of files) queue.push(uploadRow(f));
  pump();
}

function pump() {
  while (running < parallel && queue.length) {
    const job = queue.shift();
    if (job.cancelled) continue;
    running++;
    job.send(() => { running--; pump(); });
  }
}

function uploadRow(file) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
  const status = el("span", { class: "state" }, "waiting");
  const cancel = el("button", { type: "button", class: "secondary" }, "Cancel");
  cancel.setAttribute("aria-label", "Cancel upload of " + file.name);
  const row = el("li", {}, el("span", { class: "name" }, file.name + " (" + humanSize(file.size) + ")"), cancel, bar, status);
  $("uploads").prepend(row);
  const job = { cancelled: false, xhr: null };
  const finish = (cls, text) => {
    row.className = cls;
    status.textContent = text;
    cancel.remove();
  };
  cancel.addEventListener("click", () => {
    job.cancelled = true;
    if (job.xhr) job.xhr.abort();
    finish("failed", "cancelled");
  });
  job.send = (done) => {
    const xhr = new XMLHttpRequest();
    job.xhr = xhr;
    xhr.open("POST", state.session.endpoint);
    xhr.setRequestHeader("X-CSRF-Token", state.session.csrf);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      bar.value = pct;
      status.textContent = "uploading " + pct + " %";
    });
    xhr.upload.addEventListener("load", () => {
      bar.value = 100;
      status.textContent = "processing…";
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response || {};
      if (xhr.status === 201) {
        bar.value = 100;
        finish("done", (data.duplicate ? "already uploaded: " : "uploaded: ") + data.url);
        reload();
      } else {
        finish("failed", describe(xhr.status, data));
      }
      done();
    });
    xhr.addEventListener("error", () => { finish("failed", describe(0)); done(); });
    xhr.addEventListener("abort", () => done());
    status.textContent = "uploading 0 %";
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  };
  return job;
}

// ---- grid ----

async function reload() {
  state.gen++;
  state.after = "";
  state.items.clear();
  $("grid").replaceChildren();
  await loadPage();
}

async function loadPage() {
  const params = { q: "source", limit: "24" };
  if (state.after) params.after = state.after;
  const type = $("filter").value;
  if (type) params.mime_type = type;
  const gen = state.gen;
  try {
    const page = await api("GET", params);
    if (gen !== state.gen) return;
    const items = page.items || [];
    for (const it of items) addCard(it);
    // A short page is the last one, whatever the cursor says.
    state.after = items.length < Number(params.limit) ? "" : (page.paging && page.paging.after) || "";
    $("more").hidden = !state.after;
    $("empty").hidden = state.items.size > 0;
  } catch (e) {
    notice(e.message);
  }
}

function smallest(it) {
  const ts = (it.thumbnails || []).slice().sort((a, b) => a.width - b.width);
  if (ts.length) return ts[0].url;
  if (it.poster) return it.poster;
  if ((it.mime_type || "").startsWith("image/")) return it.url;
  return "";
}

function displayName(it) {
  return it.filename || it.url.split("/").pop();
}

function addCard(it) {
  if (state.items.has(it.url)) return;
  state.items.set(it.url, it);
  const name = displayName(it);
  const src = smallest(it);
  const thumb = src
    ? el("img", { class: "thumb", src: local(src), alt: "", loading: "lazy" })
    : el("span", { class: "thumb" }, (it.mime_type || "file").split("/")[0]);
  const date = it.published ? new Date(it.published).toLocaleString() : "";
  const meta = el("span", { class: "meta" },
    el("span", { class: "fname" }, name), el("br"),
    humanSize(it.size || 0) + " · " + date,
    badges(it));
  const btn = el("button", { type: "button", "aria-label": "Details of " + name }, thumb, meta);
  btn.addEventListener("click", () => openDetail(it));
  $("grid").append(el("li", { "data-url": it.url }, btn));
}

function badges(it) {
  const b = el("span", { class: "badges" });
  if (it.pushed !== undefined) b.append(el("span", { class: "badge" + (it.pushed ? " yes" : "") }, it.pushed ? "pushed" : "not pushed"));
  if (it.live !== undefined) b.append(el("span", { class: "badge" + (it.live ? " yes" : "") }, it.live ? "live" : "not live yet"));
  return b;
}

// ---- detail ----

function wireDetail() {
  $("d-alt").addEventListener("input", () => snippets(state.current));
  for (const b of document.querySelectorAll("[data-copy]")) {
    b.addEventListener("click", () => copy($(b.dataset.copy), b.textContent));
  }
  $("delete").addEventListener("click", () => { $("confirm").hidden = false; $("confirm-delete").focus(); });
  $("cancel-delete").addEventListener("click", () => { $("confirm").hidden = true; $("delete").focus(); });
  $("confirm-delete").addEventListener("click", remove);
}

function openDetail(it) {
  state.current = it;
  $("detail-title").textContent = displayName(it);
  const prev = $("detail-preview");
  prev.replaceChildren();
  const type = it.mime_type || "";
  if (type.startsWith("image/")) {
    const ts = (it.thumbnails || []).slice().sort((a, b) => a.width - b.width);
    const pick = ts.find((t) => t.width >= 640) || ts[ts.length - 1];
    prev.append(el("img", { src: local(pick ? pick.url : it.url), alt: "" }));
  } else if (type.startsWith("video/") && it.poster) {
    prev.append(el("img", { src: local(it.poster), alt: "" }));
  }
  const facts = $("detail-facts");
  facts.replaceChildren();
  const fact = (k, v) => { if (v !== undefined && v !== "") facts.append(el("dt", {}, k), el("dd", {}, String(v))); };
  fact("Type", type);
  fact("Size", humanSize(it.size || 0));
  if (it.width) fact("Dimensions", it.width + " × " + it.height);
  fact("Uploaded", it.published ? new Date(it.published).toLocaleString() : "");
  fact("Commit", it.commit);
  if (it.pushed !== undefined) fact("Pushed", it.pushed ? "yes" : "not yet");
  if (it.live !== undefined) fact("Live on the site", it.live ? "yes" : "not yet");
  fact("SHA-256", it.sha256);
  $("d-url").value = it.url;
  $("d-alt").value = "";
  $("copied").textContent = "";
  $("confirm").hidden = true;
  snippets(it);
  $("detail").showModal();
}

function attr(s) {
  return String(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function snippets(it) {
  if (!it) return;
  const alt = $("d-alt").value.trim();
  const type = it.mime_type || "";
  let md, html;
  if (type.startsWith("image/")) {
    md = "![" + alt.replace(/([\[\]\\])/g, "\\$1") + "](" + it.url.replace(/\)/g, "%29") + ")";
    const ts = (it.thumbnails || []).slice().sort((a, b) => a.width - b.width);
    const srcset = ts.map((t) => t.url + " " + t.width + "w");
    if (it.width) srcset.push(it.url + " " + it.width + "w");
    html = '<img src="' + attr(it.url) + '"';
    if (ts.length) html += ' srcset="' + attr(srcset.join(", ")) + '" sizes="(max-width: 640px) 100vw, 640px"';
    if (it.width) html += ' width="' + it.width + '" height="' + it.height + '"';
    html += ' alt="' + attr(alt) + '" loading="lazy">';
  } else if (type.startsWith("video/")) {
    md = "[" + (alt || displayName(it)).replace(/([\[\]\\])/g, "\\$1") + "](" + it.url + ")";
    html = '<video controls preload="metadata" src="' + attr(it.url) + '"' +
      (it.poster ? ' poster="' + attr(it.poster) + '"' : "") +
      (it.width ? ' width="' + it.width + '" height="' + it.height + '"' : "") + "></video>";
  } else {
    md = "[" + (alt || displayName(it)).replace(/([\[\]\\])/g, "\\$1") + "](" + it.url + ")";
    html = '<audio controls preload="metadata" src="' + attr(it.url) + '"></audio>';
  }
  $("d-md").value = md;
  $("d-html").value = html;
}

async function copy(field, label) {
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (e) {
    field.select(); // no clipboard permission: leave it selected for Ctrl+C
    $("copied").textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    return;
  }
  $("copied").textContent = label.replace("Copy ", "") + " copied.";
}

async function remove() {
  const it = state.current;
  try {
    await api("POST", null, new URLSearchParams({ action: "delete", url: it.url }).toString());
  } catch (e) {
    $("copied").textContent = e.message; // the dialog covers the page's notice
    return;
  }
  $("detail").close();
  state.items.delete(it.url);
  for (const li of $("grid").children) if (li.dataset.url === it.url) li.remove();
  $("empty").hidden = state.items.size > 0;
  notice("");
}

start().catch((e) => notice("The page could not start: " + e.message));
