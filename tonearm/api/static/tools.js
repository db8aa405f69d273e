// Ways in: text search, a dropped file, humming, "What's playing?", and index / download jobs.
"use strict";

// Text searches and "more like this" live in the address (#/search?q=..&mode=.., #/search?like=ID&view=..),
// so back and forward, a reload or a shared link give the same results; other searches (a file,
// a hum) have no address to rebuild them from and use plain #/search.
function searchHash(params) { return "#/search?" + new URLSearchParams(params).toString(); }
function showSearch(query) {
  const p = new URLSearchParams(query || "");
  const key = p.toString();
  if (!key || key === state.searchKey) return; // already on screen (back from a track page)
  state.searchKey = key;
  if (p.get("q")) {
    $("#q").value = p.get("q");
    if (p.get("mode")) $("#mode").value = p.get("mode");
    textSearch(p.get("q"), $("#mode").value, key);
  } else if (p.get("like")) likeSearch(p.get("like"), p.get("view") || "sound", key);
}
async function textSearch(q, mode, key) {
  $("#explain").textContent = "searching…";
  try { render(await api(`/api/search?q=${encodeURIComponent(q)}&mode=${mode}&k=20`), `${mode} search: ${q}`, key); }
  catch (e) { showError(e); }
}
async function likeSearch(id, view, key) {
  $("#explain").textContent = "searching…";
  try {
    const payload = await api(`/api/tracks/${encodeURIComponent(id)}/similar?view=${encodeURIComponent(view)}&k=20`);
    const title = payload.query ? titleOf(payload.query) : "this track";
    render(payload, view === "words" ? `Talks/lyrics like ${title}` : `Tracks that sound like ${title}`, key);
  } catch (e) { showError(e); }
}
$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("#q").value.trim();
  if (!q) return;
  const hash = searchHash({ q, mode: $("#mode").value });
  if (location.hash === hash) { state.searchKey = null; showSearch(hash.split("?")[1]); } // the same search again: run it
  else location.hash = hash;
});

async function upload(path, file, label) {
  const fd = new FormData();
  fd.append("file", file, file.name || "recording.webm");
  fd.append("k", "20");
  location.hash = "#/search";
  $("#explain").textContent = "analysing " + (file.name || "recording") + "…";
  try { render(await api(path, { method: "POST", body: fd, headers: authHeaders() }), label); } catch (e) { showError(e); }
}

// ---- similar by file: drag and drop, or pick ----------------------------------------------------
const drop = $("#drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); const f = e.dataTransfer.files[0]; if (f) upload("/api/similar", f, `Tracks that sound like ${f.name}`); });
$("#pick").onclick = () => $("#file").click();
$("#file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) upload("/api/similar", f, `Tracks that sound like ${f.name}`); e.target.value = ""; });

// ---- the microphone: one recorder behind the hum and what's-playing buttons -------------------------
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
  (file) => upload("/api/hum", file, "Tracks with the tune you hummed"));

// ---- what's playing: ~10 s from the microphone (or a file), identified by landmark fingerprints ----
async function identifyFile(file) {
  const fd = new FormData();
  fd.append("file", file, file.name || "clip.webm");
  location.hash = "#/search";
  $("#explain").textContent = "listening for landmarks…";
  $("#results-actions").hidden = true;
  try {
    const out = await api("/api/identify", { method: "POST", body: fd, headers: authHeaders() });
    state.results = out.results || [];
    const ol = $("#results");
    ol.innerHTML = "";
    if (!state.results.length) { $("#explain").textContent = out.query.message || "no match"; return; }
    $("#explain").textContent = "What's playing:";
    const span = Number(out.query.seconds || 10);
    for (const r of state.results) {
      const li = trackRow(r, { why: false, link: `#/track/${r.id}?from=${r.offset.toFixed(1)}&to=${(r.offset + span).toFixed(1)}`,
                               onPlay: () => playNow(entry(r), r.offset) });
      li.classList.add("identified");
      $(".play", li).setAttribute("aria-label", `Play ${titleOf(r)} from ${clock(r.offset)}`);
      $(".body", li).insertAdjacentHTML("beforeend", `<div class="why">at <span class="offset">${clock(r.offset)}</span> · confidence ${Number(r.confidence).toFixed(2)} · ${r.matched} matching landmarks</div>`);
      ol.appendChild(li);
    }
  } catch (e) { showError(e); }
}
micButton($("#listen"), $("#listen-status"),
  { idle: "♫ What's playing?", busy: "⏹ Stop and identify", hint: "listening… 10 seconds", seconds: 10, name: "clip",
    constraints: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } },
  identifyFile);
$("#identify-pick").onclick = () => $("#identify-file").click();
$("#identify-file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) identifyFile(f); e.target.value = ""; });

// ---- index jobs -------------------------------------------------------------------------------------
async function pollJob(id) {
  try {
    const j = await api(`/api/jobs/${id}`);
    const bar = $("#job-progress");
    bar.hidden = false; bar.max = j.total || 1; bar.value = j.done;
    $("#job-status").textContent = `${j.kind} job ${j.state} (${j.phase}): ${j.done}/${j.total ?? "?"}` + (j.error ? ` — ${j.error}` : "") + (j.report ? ` — ${j.report.added} added, ${j.report.updated} updated, ${j.report.moved ? j.report.moved + " moved, " : ""}${j.report.failed.length} failed` : "") + (j.messages && j.messages.length ? ` — ${j.messages.length} problem(s): ${j.messages.slice(0, 3).join("; ")}` : "");
    $("#cancel").hidden = !(j.state === "running" || j.state === "queued");
    if (j.state === "running" || j.state === "queued") setTimeout(() => pollJob(id), 1000);
    else { state.map = null; albumsPage.offset = 0; $("#home-albums").innerHTML = ""; loadStats(); if (!$("#view-home").hidden) showHome(); }
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
$("#index").addEventListener("click", () => startJob("/api/jobs", {}));
$("#cancel").addEventListener("click", async () => { if (state.job) await api(`/api/jobs/${state.job}/cancel`, { method: "POST", headers: authHeaders() }).catch(() => {}); });
// A job started elsewhere (another tab, a player's startScan) shows here too.
async function watchRunningJob() {
  try { const jobs = await api("/api/jobs"); const live = jobs.find((j) => j.state === "running" || j.state === "queued"); if (live && state.job !== live.id) { state.job = live.id; pollJob(live.id); } } catch (e) { /* no jobs API: nothing to show */ }
}
