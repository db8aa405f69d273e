// The player bar, the queue and the endless radio.
//
// The queue is a list of entries and a position; the page changes around it (hash routes), the
// <audio> element never reloads, so music keeps playing while people browse. Radio appends tracks
// from /api/radio seeded by the last tracks of the queue, never repeating what the queue holds, with
// artist spacing carried across the join (`follows`). A radio track skipped early becomes an `avoid`
// for every later request and the radio tracks queued after it are re-drawn. A like stars the track
// (the same stars Subsonic players see); a play counts once past half the track (or 4 minutes).
// Long tracks keep bookmarks, "Level" evens out loudness, and the system's media controls drive it all.
"use strict";
const player = $("#player");
const queue = { items: [], pos: -1 };
const radio = { on: false, avoid: [], batch: 10, rngSeed: null, busy: null, note: "" };
const SKIP_SECONDS = 30; // a radio track left before this (or before half its length) counts as skipped
let counted = null; // the queue entry whose play was already counted

function current() { return queue.items[queue.pos] || null; }

function saveQueue() {
  try { localStorage.setItem("tonearm-queue", JSON.stringify({ items: queue.items.slice(-500), pos: queue.pos, radio: { on: radio.on, avoid: radio.avoid } })); } catch (e) { /* private mode: the queue just isn't kept */ }
}
function loadQueue() {
  try {
    const saved = JSON.parse(localStorage.getItem("tonearm-queue") || "null");
    if (!saved || !Array.isArray(saved.items)) return;
    queue.items = saved.items; queue.pos = Math.min(saved.pos ?? -1, queue.items.length - 1);
    radio.on = !!(saved.radio && saved.radio.on); radio.avoid = (saved.radio && saved.radio.avoid) || [];
    const e = current();
    if (e) { player.src = `/api/tracks/${e.id}/audio`; player.dataset.track = e.id; }
  } catch (e) { /* a broken saved queue is dropped */ }
}

let holdStart = false; // a pause asked for while the track was still loading: it loads, and waits
function load(e, at) {
  if (!player.src.endsWith(`/api/tracks/${e.id}/audio`)) { bookmarks.playing = null; player.src = `/api/tracks/${e.id}/audio`; }
  player.dataset.track = e.id;
  holdStart = false;
  const start = () => { if (at != null) player.currentTime = at; if (!holdStart) player.play().catch(() => {}); };
  if (player.readyState >= 1) start(); else player.addEventListener("loadedmetadata", start, { once: true });
  if (player.readyState < 1) player.load();
}

function playAt(i, at) {
  if (i < 0 || i >= queue.items.length) return;
  queue.pos = i;
  const e = current();
  if (level.on) applyLevel(); // before the audio starts: the gain is usually fetched already
  if (at == null && e.start == null) at = resumePoint(e);
  load(e, at ?? e.start ?? null);
  showNow();
  renderQueue();
  saveQueue();
  if (radio.on) extendRadio();
}

// Play one track now: it goes right after the current one, and the queue carries on after it.
function playNow(e, at) { queue.items.splice(queue.pos + 1, 0, e); playAt(queue.pos + 1, at ?? e.start); }
// Replace the queue with a list (an album, a result list) and start at `i`.
function playList(entries, i = 0) { stopRadio(); queue.items = entries.slice(); queue.pos = -1; playAt(i); }
function playNext(entries) { queue.items.splice(queue.pos + 1, 0, ...entries); renderQueue(); saveQueue(); }
function addToQueue(entries) {
  queue.items.push(...entries);
  renderQueue(); saveQueue();
  if (queue.pos < 0 || (player.ended && queue.pos === queue.items.length - entries.length - 1)) playAt(queue.pos + 1);
}
function removeAt(i) {
  if (i === queue.pos) { queue.items.splice(i, 1); if (queue.items.length) playAt(Math.min(i, queue.items.length - 1)); else { player.pause(); queue.pos = -1; showNow(); } }
  else { queue.items.splice(i, 1); if (i < queue.pos) queue.pos--; }
  renderQueue(); saveQueue();
}
function move(from, to) {
  if (to < 0 || to >= queue.items.length || from === to) return;
  const [e] = queue.items.splice(from, 1);
  queue.items.splice(to, 0, e);
  if (queue.pos === from) queue.pos = to;
  else if (from < queue.pos && to >= queue.pos) queue.pos--;
  else if (from > queue.pos && to <= queue.pos) queue.pos++;
  renderQueue(); saveQueue();
}

function isEarlySkip(e) {
  if (!e || e.source !== "radio" || player.ended) return false;
  const d = player.duration || e.duration || 0;
  return player.currentTime < Math.min(SKIP_SECONDS, d ? d / 2 : SKIP_SECONDS);
}

async function next(auto = false) {
  const e = current();
  if (!auto && radio.on && isEarlySkip(e)) {
    radio.avoid = [...radio.avoid.filter((x) => x !== e.id), e.id].slice(-20);
    e.skipped = true;
    // the radio tracks after this one were chosen before the skip: draw them again with the skip as an avoid
    queue.items = queue.items.filter((x, i) => i <= queue.pos || x.source !== "radio");
    announce(`skipped: the radio steers away from ${e.title}`);
    await extendRadio(true);
  }
  if (queue.pos + 1 < queue.items.length) return playAt(queue.pos + 1);
  if (radio.on) { await extendRadio(true); if (queue.pos + 1 < queue.items.length) return playAt(queue.pos + 1); }
  if (auto) showNow();
}
function prev() {
  if (player.currentTime > 3 || queue.pos <= 0) { player.currentTime = 0; return; }
  playAt(queue.pos - 1);
}
function togglePlay() {
  if (!current()) { if (queue.items.length) playAt(0); return; }
  if (player.paused) { holdStart = false; player.play().catch(() => {}); } else { holdStart = true; player.pause(); }
}

// ---- radio ---------------------------------------------------------------------------------
function radioQuery(limitExclude) {
  const played = queue.items.slice(0, queue.pos + 1).filter((e) => !e.skipped);
  const tail = queue.items.filter((e) => !e.skipped);
  const seeds = (tail.length ? tail : played).slice(-3).map((e) => e.id);
  const p = new URLSearchParams();
  seeds.forEach((s) => p.append("seed", s));
  radio.avoid.forEach((a) => p.append("avoid", a));
  const exclude = [...new Set(queue.items.map((e) => e.id))].slice(-limitExclude);
  exclude.filter((x) => !seeds.includes(x) && !radio.avoid.includes(x)).forEach((x) => p.append("exclude", x));
  queue.items.slice(-4).forEach((e) => p.append("follows", e.id));
  p.set("length", String(radio.batch));
  if (radio.rngSeed != null) p.set("rng_seed", String(radio.rngSeed));
  return p;
}
// Top the queue up when fewer than two tracks are left after the current one (or always, when `force`).
async function extendRadio(force = false) {
  if (!radio.on) return;
  if (radio.busy) return radio.busy;
  if (!force && queue.items.length - queue.pos - 1 >= 2) return;
  radio.busy = (async () => {
    try {
      let out = await api(`/api/radio?${radioQuery(300)}`);
      // a small library runs out of unplayed tracks: then only the last 20 stay excluded, so the radio goes on
      if (!out.results.length) out = await api(`/api/radio?${radioQuery(20)}`);
      queue.items.push(...out.results.map((r) => entry(r, "radio")));
      radio.note = `radio: ${queue.items.length - queue.pos - 1} tracks ahead`;
      $("#radio-status").textContent = radio.note;
      renderQueue(); saveQueue();
    } catch (e) { announce("radio: " + e.message); }
    finally { radio.busy = null; }
  })();
  return radio.busy;
}
async function startRadio(seedEntries, label) {
  radio.on = true; radio.avoid = [];
  $("#radio-badge").hidden = false; $("#radio-stop").hidden = false;
  queue.items = seedEntries.map((e) => ({ ...e, source: "seed" }));
  queue.pos = -1;
  await extendRadio(true);
  playAt(0);
  announce(label || "radio started");
}
function stopRadio() {
  radio.on = false;
  $("#radio-badge").hidden = true; $("#radio-stop").hidden = true;
  $("#radio-status").textContent = "";
  saveQueue();
}

// ---- likes and plays -------------------------------------------------------------------------
async function toggleLike() {
  const e = current();
  if (!e) return;
  const on = !e.starred;
  try {
    await api(`/api/stars/${e.id}`, { method: on ? "PUT" : "DELETE", headers: authHeaders() });
    e.starred = on;
    showNow(); saveQueue();
    announce(on ? `liked ${e.title}` : `unliked ${e.title}`);
  } catch (err) { announce(err.message); }
}
function countPlay(e) {
  if (!e || counted === e) return;
  counted = e;
  api(`/api/tracks/${e.id}/plays`, { method: "POST", headers: authHeaders() }).catch(() => {});
}

// ---- the bar -------------------------------------------------------------------------------
function showNow() {
  const e = current();
  $("#now").textContent = e ? e.title : "Nothing playing";
  $("#now-sub").textContent = e ? [e.artist, e.album].filter(Boolean).join(" · ") : "";
  const img = $("#now-cover");
  img.hidden = !e; if (e) img.src = e.cover;
  const like = $("#like");
  like.setAttribute("aria-pressed", e && e.starred ? "true" : "false");
  like.textContent = e && e.starred ? "♥" : "♡";
  $("#queue-count").textContent = String(Math.max(0, queue.items.length - queue.pos - 1));
  $("#radio-badge").hidden = !radio.on;
  showSession(e);
}
// ---- bookmarks -------------------------------------------------------------------------------
// A long track (an episode, a mix) remembers where it was left, in the library, so it resumes there
// next time, here or in a Subsonic player; it is forgotten once the track has played to its end.
// `playing`: the track the <audio> element holds now (its position means nothing while another loads)
const bookmarks = { minSeconds: 600, every: 15, marks: {}, saved: null, playing: null };
function loadBookmarks() { api("/api/bookmarks").then((b) => { bookmarks.marks = b.bookmarks || {}; }).catch(() => {}); }
function resumePoint(e) {
  const m = bookmarks.marks[e.id];
  const d = e.duration || 0;
  // a few seconds in, or nearly over: start from the top
  if (!m || !(m.position > Math.min(5, 0.05 * d)) || (d && m.position > d - Math.min(10, 0.1 * d))) return null;
  announce(`${e.title}: resuming at ${clock(m.position)}`);
  return m.position;
}
function canWrite() { return !state.config.requires_token || !!token(); } // never prompt from the background
function saveBookmark(force = false) {
  const e = current(), t = player.currentTime, d = player.duration;
  if (!e || e.id !== bookmarks.playing || !d || d < bookmarks.minSeconds || !canWrite() || player.ended) return;
  if (!force && bookmarks.saved && bookmarks.saved.id === e.id && Math.abs(t - bookmarks.saved.t) < bookmarks.every) return;
  bookmarks.saved = { id: e.id, t };
  bookmarks.marks[e.id] = { position: t };
  api(`/api/tracks/${e.id}/bookmark?position=${t.toFixed(1)}`, { method: "PUT", headers: authHeaders() }).catch(() => {});
}
function dropBookmark(e) {
  if (!e || !bookmarks.marks[e.id]) return;
  delete bookmarks.marks[e.id];
  if (canWrite()) api(`/api/tracks/${e.id}/bookmark`, { method: "DELETE", headers: authHeaders() }).catch(() => {});
}

// ---- levelling -------------------------------------------------------------------------------
// With "Level" on, the audio goes through a gain node set from the track's measured loudness
// (/api/tracks/{id}/level: to -14 LUFS, never past clipping), so a quiet 1970s master and a loud
// 2010s one play at one level. The next track's gain is fetched ahead, so it is known when it starts.
const level = { on: localStorage.getItem("tonearm-level") === "1", ctx: null, node: null, gains: new Map() };
function levelOf(id) { // {gain_db, lufs, source}; a track that cannot be measured plays as it is
  if (!level.gains.has(id)) level.gains.set(id, api(`/api/tracks/${id}/level`).catch(() => ({ gain_db: 0, source: "none" })));
  return level.gains.get(id);
}
async function applyLevel() {
  const e = current();
  if (!level.on) { if (level.node) level.node.gain.value = 1; return; }
  // a context made before the page was ever clicked stays suspended, and the audio routed into it silent:
  // until then the track plays as it is
  if (!level.ctx && navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  if (!level.ctx) { // once: an <audio> element cannot leave a Web Audio graph it joined
    level.ctx = new AudioContext();
    level.node = level.ctx.createGain();
    level.ctx.createMediaElementSource(player).connect(level.node).connect(level.ctx.destination);
  }
  if (level.ctx.state === "suspended") level.ctx.resume().catch(() => {});
  if (!e) return;
  const g = await levelOf(e.id);
  if (current() === e && level.on) {
    level.node.gain.setTargetAtTime(Math.pow(10, g.gain_db / 20), level.ctx.currentTime, 0.02);
    showLevel(g); // says what it did to this track, and from what
  }
  const after = queue.items[queue.pos + 1];
  if (after) levelOf(after.id);
}
const LEVEL_SOURCES = { tags: "from its ReplayGain tags", measured: "measured", none: "no level: played as it is" };
function showLevel(g) {
  $("#level").setAttribute("aria-pressed", String(level.on));
  const now = g && g.source ? ` (this track ${g.gain_db >= 0 ? "+" : ""}${Number(g.gain_db).toFixed(1)} dB, ${LEVEL_SOURCES[g.source] || g.source})` : "";
  $("#level").title = level.on ? `Loudness evened out between tracks${now}; click to play files as they are` : "Even out loudness between tracks";
}
$("#level").onclick = () => {
  level.on = !level.on;
  localStorage.setItem("tonearm-level", level.on ? "1" : "0");
  showLevel(); applyLevel();
  announce(level.on ? "loudness evened out between tracks" : "tracks play at their own loudness");
};

// ---- media session ---------------------------------------------------------------------------
// The system's media controls (keyboard media keys, headset buttons, the lock screen, the browser's own
// media hub) show the track and drive this queue; the tab's title says what is playing.
const mediaActions = {
  play: () => { holdStart = false; if (current()) player.play().catch(() => {}); else togglePlay(); },
  pause: () => { holdStart = true; player.pause(); },
  previoustrack: () => prev(),
  nexttrack: () => next(false),
  seekto: (d) => { if (d && d.seekTime != null && isFinite(d.seekTime)) player.currentTime = d.seekTime; },
  seekbackward: (d) => { player.currentTime = Math.max(0, player.currentTime - ((d && d.seekOffset) || 10)); },
  seekforward: (d) => { player.currentTime = Math.min(player.duration || 0, player.currentTime + ((d && d.seekOffset) || 10)); },
  stop: () => { holdStart = true; player.pause(); player.currentTime = 0; },
};
if ("mediaSession" in navigator) {
  for (const [action, handler] of Object.entries(mediaActions)) {
    try { navigator.mediaSession.setActionHandler(action, handler); } catch (e) { /* an action this browser lacks */ }
  }
}
function showSession(e) {
  document.title = e ? `${player.paused ? "" : "▶ "}${e.title}${e.artist ? " — " + e.artist : ""} · tonearm` : "tonearm";
  if (!("mediaSession" in navigator)) return;
  const absolute = (u) => new URL(u, location.href).href;
  navigator.mediaSession.metadata = e && typeof MediaMetadata === "function" ? new MediaMetadata({
    title: e.title, artist: e.artist || "", album: e.album || "",
    artwork: [96, 256, 512].map((n) => ({ src: absolute(e.cover.replace(/size=\d+/, `size=${n}`)), sizes: `${n}x${n}` })),
  }) : null;
  navigator.mediaSession.playbackState = !e ? "none" : player.paused ? "paused" : "playing";
}
function showPosition() {
  if (!("mediaSession" in navigator) || !navigator.mediaSession.setPositionState) return;
  const d = player.duration;
  if (!d || !isFinite(d)) return;
  try { navigator.mediaSession.setPositionState({ duration: d, position: Math.min(player.currentTime, d), playbackRate: player.playbackRate || 1 }); } catch (err) { /* a position the browser refuses */ }
}

function renderQueue() {
  $("#queue-count").textContent = String(Math.max(0, queue.items.length - queue.pos - 1));
  const ol = $("#queue-list");
  if (!ol || $("#view-queue").hidden) return;
  ol.innerHTML = "";
  queue.items.forEach((e, i) => {
    const li = document.createElement("li");
    li.className = "track queued" + (i === queue.pos ? " current" : "") + (e.skipped ? " skipped" : "");
    li.dataset.id = e.id; li.dataset.index = String(i); li.draggable = true;
    if (i === queue.pos) li.setAttribute("aria-current", "true");
    li.innerHTML = `<img class="cover" src="${esc(e.cover)}" alt="" width="48" height="48" loading="lazy">
      <button class="play" type="button" aria-label="Play ${esc(e.title)}">${i === queue.pos ? "♫" : ICON.play}</button>
      <div class="body"><a class="title" href="#/track/${e.id}">${esc(e.title)}</a>
        <div class="meta">${esc([e.artist, e.album].filter(Boolean).join(" · "))}${e.source === "radio" ? " · radio" : ""}</div></div>
      <div class="actions"><button class="up" type="button" aria-label="Move ${esc(e.title)} up">${ICON.up}</button>
        <button class="down" type="button" aria-label="Move ${esc(e.title)} down">${ICON.down}</button>
        <button class="remove" type="button" aria-label="Remove ${esc(e.title)} from the queue">${ICON.remove}</button></div>`;
    li.querySelector(".play").onclick = () => playAt(i);
    li.querySelector(".up").onclick = () => { move(i, i - 1); focusQueueButton(i - 1, ".up"); };
    li.querySelector(".down").onclick = () => { move(i, i + 1); focusQueueButton(i + 1, ".down"); };
    li.querySelector(".remove").onclick = () => removeAt(i);
    li.addEventListener("dragstart", (ev) => { ev.dataTransfer.setData("text/plain", String(i)); li.classList.add("dragging"); });
    li.addEventListener("dragend", () => li.classList.remove("dragging"));
    li.addEventListener("dragover", (ev) => ev.preventDefault());
    li.addEventListener("drop", (ev) => { ev.preventDefault(); move(Number(ev.dataTransfer.getData("text/plain")), i); });
    ol.appendChild(li);
  });
}
function focusQueueButton(i, sel) { const b = $(`#queue-list li[data-index="${i}"] ${sel}`); if (b) b.focus(); }

player.addEventListener("timeupdate", () => {
  const d = player.duration;
  $("#time-cur").textContent = clock(player.currentTime);
  $("#time-dur").textContent = clock(d);
  if (d && !seeking) $("#seek").value = String(Math.round((1000 * player.currentTime) / d));
  if (d && player.currentTime >= Math.min(d / 2, 240)) countPlay(current());
  saveBookmark();
  followAlong();
});
player.addEventListener("play", () => { if (level.on) applyLevel(); $("#playpause").innerHTML = ICON.pause; $("#playpause").setAttribute("aria-label", "Pause (space)"); showSession(current()); });
player.addEventListener("pause", () => { saveBookmark(true); $("#playpause").innerHTML = ICON.play; $("#playpause").setAttribute("aria-label", "Play (space)"); showSession(current()); });
player.addEventListener("loadedmetadata", () => { bookmarks.playing = player.dataset.track; showPosition(); });
player.addEventListener("seeked", showPosition);
player.addEventListener("ratechange", showPosition);
player.addEventListener("ended", () => { countPlay(current()); dropBookmark(current()); next(true); });
let seeking = false;
$("#seek").addEventListener("input", () => { seeking = true; if (player.duration) $("#time-cur").textContent = clock((player.duration * $("#seek").value) / 1000); });
$("#seek").addEventListener("change", () => { if (player.duration) player.currentTime = (player.duration * $("#seek").value) / 1000; seeking = false; });
$("#volume").addEventListener("input", () => { player.volume = Number($("#volume").value); localStorage.setItem("tonearm-volume", $("#volume").value); });
$("#prev").onclick = prev;
$("#next").onclick = () => next(false);
$("#playpause").onclick = togglePlay;
$("#like").onclick = toggleLike;
$("#queue-clear").onclick = () => { stopRadio(); const e = current(); queue.items = e ? [e] : []; queue.pos = e ? 0 : -1; renderQueue(); showNow(); saveQueue(); };
$("#radio-stop").onclick = () => { stopRadio(); queue.items = queue.items.filter((x, i) => i <= queue.pos || x.source !== "radio"); renderQueue(); showNow(); saveQueue(); };

// Keyboard: space plays/pauses, n and p move in the queue, / goes to the search box (not while typing).
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  const typing = t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === " " && !(t && ["BUTTON", "A", "SUMMARY"].includes(t.tagName)) && t.id !== "map") { ev.preventDefault(); togglePlay(); }
  else if (ev.key === "n") next(false);
  else if (ev.key === "p") prev();
  else if (ev.key === "/") { ev.preventDefault(); $("#q").focus(); }
});

(function restore() {
  $("#prev").innerHTML = ICON.prev; $("#next").innerHTML = ICON.next; $("#playpause").innerHTML = ICON.play;
  const v = localStorage.getItem("tonearm-volume");
  if (v != null) { player.volume = Number(v); $("#volume").value = v; }
  loadQueue();
  loadBookmarks();
  showNow();
  showLevel();
})();
