// tonearm web app: plain JavaScript, no CDN, no build step. Talks to the REST API under /api.
"use strict";
const $ = (sel) => document.querySelector(sel);
const state = { config: {}, results: [], map: null, view: { scale: 1, dx: 0, dy: 0 }, job: null };

function token() { return localStorage.getItem("tonearm-token") || ""; }
function authHeaders() {
  if (!state.config.requires_token) return {};
  let t = token();
  if (!t) { t = prompt("This server needs its token for uploads (printed by `tonearm serve`):") || ""; localStorage.setItem("tonearm-token", t); }
  return { "X-Tonearm-Token": t };
}
async function api(path, opts = {}) {
  const res = await fetch(path, opts);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    if (res.status === 401) localStorage.removeItem("tonearm-token");
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : res.statusText;
    throw new Error(detail);
  }
  return body;
}
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function clock(s) { if (s == null) return ""; s = Math.floor(s); const m = Math.floor(s / 60); return `${m}:${String(s % 60).padStart(2, "0")}`; }
function showError(err) { $("#explain").innerHTML = `<span class="error">${esc(err.message || err)}</span>`; }

function play(id, title, at) {
  const p = $("#player");
  if (!p.src.endsWith(`/api/tracks/${id}/audio`)) p.src = `/api/tracks/${id}/audio`;
  p.dataset.track = id;
  $("#now").textContent = title || id;
  const start = () => { if (at != null) p.currentTime = at; p.play().catch(() => {}); };
  if (p.readyState >= 1) start(); else p.addEventListener("loadedmetadata", start, { once: true });
  if (p.readyState < 1) p.load();
}

function why(r) {
  const parts = [];
  if (r.modes) parts.push("found by " + Object.entries(r.modes).map(([m, k]) => `${m} #${k}`).join(", "));
  if (r.passage) parts.push(`${r.start != null ? "[" + clock(r.start) + "] " : ""}<mark>${esc(r.passage.slice(0, 180))}</mark>`);
  if (r.emotions) parts.push("emotions: " + esc(r.emotions));
  if (r.tags) parts.push("tags: " + Object.entries(r.tags).map(([t, p]) => `${esc(t)} ${p.toFixed(2)}`).join(", "));
  if (r.match) parts.push(`tune found at ${r.match.start.toFixed(1)}–${r.match.end.toFixed(1)} s`);
  return parts.join(" · ");
}

function render(payload, label) {
  state.results = payload.results || [];
  const q = payload.query || {};
  $("#explain").textContent = (label || "") + (q.explain ? " — " + q.explain : "") + (state.results.length ? "" : " — no results");
  const ol = $("#results");
  ol.innerHTML = "";
  for (const r of state.results) {
    const li = document.createElement("li");
    const title = r.title || (r.path || "").split("/").pop();
    li.innerHTML = `
      <button class="play" aria-label="Play ${esc(title)}">▶</button>
      <div><a class="title" href="#/track/${r.id}">${esc(title)}</a>
        <div class="meta">${esc([r.artist, r.album, r.genre].filter(Boolean).join(" · "))}</div>
        <div class="why">${why(r)}</div></div>
      <div><span class="score">${Number(r.score).toFixed(3)}</span>
        <button class="more" aria-label="More like ${esc(title)}">more like this</button></div>`;
    li.querySelector(".play").onclick = () => play(r.id, title, r.start ?? (r.match ? r.match.start : null));
    li.querySelector(".more").onclick = () => moreLike(r.id, title);
    ol.appendChild(li);
  }
  if (state.map) drawMap();
}

async function moreLike(id, title) {
  location.hash = "#/";
  try { render(await api(`/api/tracks/${id}/similar?k=20`), `Tracks that sound like ${title}`); } catch (e) { showError(e); }
}

async function textSearch(q, mode) {
  $("#explain").textContent = "searching…";
  try { render(await api(`/api/search?q=${encodeURIComponent(q)}&mode=${mode}&k=20`), `${mode} search: ${q}`); }
  catch (e) { showError(e); }
}

async function upload(path, file, label) {
  const fd = new FormData();
  fd.append("file", file, file.name || "recording.webm");
  fd.append("k", "20");
  $("#explain").textContent = "analysing " + (file.name || "recording") + "…";
  try { render(await api(path, { method: "POST", body: fd, headers: authHeaders() }), label); } catch (e) { showError(e); }
}

// ---- similar by file: drag and drop or pick -----------------------------------------
const drop = $("#drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); const f = e.dataTransfer.files[0]; if (f) { location.hash = "#/"; upload("/api/similar", f, `Tracks that sound like ${f.name}`); } });
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("#file").click(); } });
$("#file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) { location.hash = "#/"; upload("/api/similar", f, `Tracks that sound like ${f.name}`); } e.target.value = ""; });

// ---- the microphone: one recorder behind the hum and what's-playing buttons -----------------
// A button starts recording; a second click (or `seconds`) stops it, and `done` gets the file.
function micButton(btn, status, { idle, busy, hint, seconds, name, constraints }, done) {
  let rec = null;
  btn.addEventListener("click", async () => {
    if (rec && rec.state === "recording") { rec.stop(); return; }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: constraints || true });
      const chunks = [];
      rec = new MediaRecorder(stream);
      rec.ondataavailable = (e) => chunks.push(e.data);
      rec.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        btn.textContent = idle; btn.setAttribute("aria-pressed", "false");
        status.textContent = "";
        const blob = new Blob(chunks, { type: rec.mimeType || "audio/webm" });
        const ext = (rec.mimeType || "").includes("ogg") ? "ogg" : "webm";
        done(new File([blob], `${name}.${ext}`, { type: blob.type }));
      };
      rec.start();
      btn.textContent = busy; btn.setAttribute("aria-pressed", "true");
      status.textContent = hint;
      setTimeout(() => { if (rec && rec.state === "recording") rec.stop(); }, seconds * 1000);
    } catch (e) { status.textContent = "microphone unavailable: " + e.message; }
  });
}

micButton($("#hum"), $("#hum-status"),
  { idle: "♪ Hum a tune", busy: "⏹ Stop and search", hint: "recording… hum 5–20 seconds", seconds: 30, name: "hum" },
  (file) => { location.hash = "#/"; upload("/api/hum", file, "Tracks with the tune you hummed"); });

// ---- what's playing: ~10 s from the microphone (or a file), identified by landmark fingerprints ----
async function identifyFile(file) {
  const fd = new FormData();
  fd.append("file", file, file.name || "clip.webm");
  location.hash = "#/";
  $("#explain").textContent = "listening for landmarks…";
  try {
    const out = await api("/api/identify", { method: "POST", body: fd, headers: authHeaders() });
    state.results = out.results || [];
    const ol = $("#results");
    ol.innerHTML = "";
    if (!state.results.length) { $("#explain").textContent = out.query.message || "no match"; return; }
    $("#explain").textContent = "What's playing:";
    for (const r of state.results) {
      const title = r.title || (r.path || "").split("/").pop();
      const li = document.createElement("li");
      li.className = "identified";
      li.innerHTML = `<button class="play" aria-label="Play ${esc(title)} from ${clock(r.offset)}">▶</button>
        <div><a class="title" href="#/track/${r.id}">${esc(title)}</a>
          <div class="meta">${esc([r.artist, r.album].filter(Boolean).join(" · "))}</div>
          <div class="why">at <span class="offset">${clock(r.offset)}</span> · confidence ${Number(r.confidence).toFixed(2)} · ${r.matched} matching landmarks</div></div>`;
      li.querySelector(".play").onclick = () => play(r.id, title, r.offset);
      ol.appendChild(li);
    }
  } catch (e) { showError(e); }
}
micButton($("#listen"), $("#listen-status"),
  { idle: "♫ What's playing?", busy: "⏹ Stop and identify", hint: "listening… 10 seconds", seconds: 10, name: "clip",
    constraints: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } },
  identifyFile);
$("#identify-file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) identifyFile(f); e.target.value = ""; });

// ---- track page ---------------------------------------------------------------------
async function showTrack(id) {
  const el = $("#view-track");
  try {
    const t = await api(`/api/tracks/${id}`);
    const title = t.title || t.path.split("/").pop();
    const fields = ["artist", "album", "genre", "year", "duration", "language", "emotions", "valence", "arousal", "words_source", "popularity"];
    const tags = Object.entries(t.tags || {}).sort((a, b) => b[1] - a[1]).slice(0, 10);
    el.innerHTML = `<h2>${esc(title)}</h2>
      <p><button id="t-play">▶ Play</button> <button id="t-more">More like this</button>
      <button id="t-words" ${t.views && t.views.words ? "" : "hidden"}>Similar words</button>
      <button id="t-radio">Start radio</button>
      <button id="t-path-from">Path from here</button>
      <button id="t-path-to" ${state.pathStart && state.pathStart.id !== id ? "" : "hidden"}>Path here from ${esc(state.pathStart ? state.pathStart.title : "")}</button></p>
      <dl>${fields.filter((f) => t[f] != null).map((f) => `<dt>${f}</dt><dd>${esc(f === "duration" ? clock(t[f]) : t[f])}</dd>`).join("")}</dl>
      ${tags.length ? `<h3>Sound tags</h3><ul>${tags.map(([k, v]) => `<li>${esc(k)} <span class="tagbar" style="width:${Math.round(v * 200)}px"></span> ${v.toFixed(2)}</li>`).join("")}</ul>` : ""}
      ${t.lyrics ? `<h3>Lyrics</h3><pre>${esc(t.lyrics)}</pre>` : ""}
      ${t.passages && t.words_source === "transcript" ? `<h3>Transcript</h3>${t.passages.filter((p) => p.source !== "meta").map((p) => `<p class="passage" tabindex="0" data-at="${p.start ?? ""}">[${clock(p.start)}] ${esc(p.text)}</p>`).join("")}` : ""}`;
    el.querySelector("#t-play").onclick = () => play(id, title, null);
    el.querySelector("#t-more").onclick = () => moreLike(id, title);
    el.querySelector("#t-words").onclick = async () => { location.hash = "#/"; try { render(await api(`/api/tracks/${id}/similar?view=words&k=20`), `Talks/lyrics like ${title}`); } catch (e) { showError(e); } };
    el.querySelector("#t-radio").onclick = async () => { location.hash = "#/"; try { render(await api(`/api/radio?seed=${id}&length=25`), `Radio from ${title}`); } catch (e) { showError(e); } };
    el.querySelector("#t-path-from").onclick = () => { state.pathStart = { id, title }; $("#explain").textContent = `Path starts at ${title}: open another track and choose "Path here"`; el.querySelector("#t-path-from").textContent = "Path starts here ✓"; };
    el.querySelector("#t-path-to").onclick = async () => { const a = state.pathStart; location.hash = "#/"; try { render(await api(`/api/path?from=${a.id}&to=${id}&steps=10`), `Path from ${a.title} to ${title}`); } catch (e) { showError(e); } };
    el.querySelectorAll(".passage").forEach((p) => {
      const go = () => play(id, title, p.dataset.at === "" ? null : Number(p.dataset.at));
      p.onclick = go; p.onkeydown = (e) => { if (e.key === "Enter") go(); };
    });
  } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}

// ---- library map ----------------------------------------------------------------------
const palette = ["#b3541e", "#2f6f8f", "#6a8f2f", "#8f2f6a", "#c9a227", "#4b4b9e", "#2f8f7a", "#9e4b4b", "#777"];
function colourOf(label) { const labels = state.map.labels; const i = labels.indexOf(label); return palette[i >= 0 && i < palette.length - 1 ? i : palette.length - 1]; }
function toScreen(p, c) { const v = state.view; return [c.width / 2 + (p.x * 0.45 * c.width) * v.scale + v.dx, c.height / 2 - (p.y * 0.45 * c.height) * v.scale + v.dy]; }
function drawMap() {
  const c = $("#map"); const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const hit = new Set(state.results.map((r) => r.id));
  for (const p of state.map.points) {
    const [x, y] = toScreen(p, c);
    g.fillStyle = colourOf(p.label); g.globalAlpha = hit.size && !hit.has(p.id) ? 0.35 : 0.9;
    g.beginPath(); g.arc(x, y, 4, 0, 2 * Math.PI); g.fill();
    if (hit.has(p.id)) { g.globalAlpha = 1; g.strokeStyle = "#000"; g.lineWidth = 2; g.beginPath(); g.arc(x, y, 8, 0, 2 * Math.PI); g.stroke(); }
  }
  g.globalAlpha = 1;
}
async function showMap() {
  try {
    if (!state.map) {
      const m = await api("/api/map");
      const counts = {};
      for (const p of m.points) counts[p.label] = (counts[p.label] || 0) + 1;
      m.labels = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
      state.map = m;
      $("#legend").innerHTML = m.labels.slice(0, palette.length - 1).map((l) => `<li><span style="background:${colourOf(l)}"></span>${esc(l === "null" || l === "undefined" ? "(none)" : l)}</li>`).join("");
    }
    drawMap();
  } catch (e) { showError(e); }
}
(function mapControls() {
  const c = $("#map"); let drag = null;
  c.addEventListener("wheel", (e) => { e.preventDefault(); state.view.scale *= e.deltaY < 0 ? 1.2 : 1 / 1.2; drawMap(); }, { passive: false });
  c.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
  c.addEventListener("pointermove", (e) => { if (!drag) return; const dx = e.clientX - drag.x, dy = e.clientY - drag.y; if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true; if (drag.moved) { state.view.dx += dx; state.view.dy += dy; drag.x = e.clientX; drag.y = e.clientY; drawMap(); } });
  c.addEventListener("pointerup", (e) => {
    const wasDrag = drag && drag.moved; drag = null; if (wasDrag || !state.map) return;
    const r = c.getBoundingClientRect(); const sx = (e.clientX - r.left) * c.width / r.width, sy = (e.clientY - r.top) * c.height / r.height;
    let best = null, bd = 12 * 12;
    for (const p of state.map.points) { const [x, y] = toScreen(p, c); const d = (x - sx) ** 2 + (y - sy) ** 2; if (d < bd) { bd = d; best = p; } }
    if (best) { play(best.id, best.title, null); $("#now").textContent = `${best.title} (${best.label ?? ""})`; }
  });
  c.addEventListener("keydown", (e) => {
    const v = state.view, step = 30;
    if (e.key === "+" || e.key === "=") v.scale *= 1.2; else if (e.key === "-") v.scale /= 1.2;
    else if (e.key === "ArrowLeft") v.dx += step; else if (e.key === "ArrowRight") v.dx -= step;
    else if (e.key === "ArrowUp") v.dy += step; else if (e.key === "ArrowDown") v.dy -= step; else return;
    e.preventDefault(); drawMap();
  });
})();

// ---- index jobs -------------------------------------------------------------------------
async function pollJob(id) {
  try {
    const j = await api(`/api/jobs/${id}`);
    const bar = $("#job-progress");
    bar.hidden = false; bar.max = j.total || 1; bar.value = j.done;
    $("#job-status").textContent = `${j.kind} job ${j.state} (${j.phase}): ${j.done}/${j.total ?? "?"}` + (j.error ? ` — ${j.error}` : "") + (j.report ? ` — ${j.report.added} added, ${j.report.updated} updated, ${j.report.failed.length} failed` : "") + (j.messages && j.messages.length ? ` — ${j.messages.length} problem(s): ${j.messages.slice(0, 3).join("; ")}` : "");
    $("#cancel").hidden = !(j.state === "running" || j.state === "queued");
    if (j.state === "running" || j.state === "queued") setTimeout(() => pollJob(id), 1000);
    else { state.map = null; loadStats(); }
  } catch (e) { $("#job-status").textContent = e.message; }
}
async function startJob(path, body) {
  try {
    const j = await api(path, { method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() }, body: JSON.stringify(body) });
    state.job = j.id; pollJob(j.id);
  } catch (e) { $("#job-status").textContent = e.message; }
}
$("#add-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const urls = $("#add-urls").value.split(/\s+/).map((u) => u.trim()).filter(Boolean);
  if (urls.length) startJob("/api/add", { urls });
});
$("#feed-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const url = $("#feed-url").value.trim(); const latest = parseInt($("#feed-latest").value, 10);
  if (url) startJob("/api/feeds", latest > 0 ? { url, latest } : { url });
});
$("#index").addEventListener("click", async () => {
  try { const j = await api("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() }, body: "{}" }); state.job = j.id; pollJob(j.id); }
  catch (e) { $("#job-status").textContent = e.message; }
});
$("#cancel").addEventListener("click", async () => { if (state.job) await api(`/api/jobs/${state.job}/cancel`, { method: "POST", headers: authHeaders() }).catch(() => {}); });

// ---- routing ------------------------------------------------------------------------------
function route() {
  const h = location.hash || "#/";
  $("#view-search").hidden = !(h === "#/" || h === "#");
  $("#view-map").hidden = h !== "#/map";
  $("#view-track").hidden = !h.startsWith("#/track/");
  if (h.startsWith("#/track/")) showTrack(h.slice(8));
  if (h === "#/map") showMap();
}
window.addEventListener("hashchange", route);
$("#search-form").addEventListener("submit", (e) => { e.preventDefault(); const q = $("#q").value.trim(); if (q) { location.hash = "#/"; textSearch(q, $("#mode").value); } });
async function loadStats() { try { const s = await api("/api/stats"); $("#stats").textContent = `${s.tracks} tracks · views: ${Object.keys(s.views).join(", ")}`; } catch (e) { $("#stats").textContent = e.message; } }
(async function init() {
  try { state.config = await api("/api/config"); } catch (e) { state.config = {}; }
  $("#index").hidden = !state.config.can_index;
  loadStats(); route();
})();
