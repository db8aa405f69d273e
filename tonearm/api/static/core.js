// tonearm web app, shared pieces: the API client, escaping, and the two ways a page shows music
// (track rows and album cards). Plain JavaScript, no CDN, no build step; the scripts load in order
// core → player → pages → tools → app and share these globals.
"use strict";
const $ = (sel, root = document) => root.querySelector(sel);
const state = { config: {}, results: [], resultsLabel: "", map: null, view: { scale: 1, dx: 0, dy: 0 }, job: null };

// Icons drawn inline: symbol fonts are not everywhere (a headless Debian chromium has no ⏮ or ＋).
const svg = (d) => `<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path fill="currentColor" d="${d}"/></svg>`;
const ICON = {
  prev: svg("M6 5h2v14H6zM20 5v14L9 12z"), next: svg("M16 5h2v14h-2zM4 5v14l11-7z"), play: svg("M7 4v16l13-8z"),
  pause: svg("M6 4h4v16H6zM14 4h4v16h-4z"), add: svg("M11 4h2v7h7v2h-7v7h-2v-7H4v-2h7z"),
  playNext: svg("M3 5h12v2H3zM3 10h12v2H3zM3 15h7v2H3zM15 13v8l6-4z"), more: svg("M4 9c3-3 5 3 8 0s5 3 8 0v2c-3 3-5-3-8 0s-5-3-8 0zM4 14c3-3 5 3 8 0s5 3 8 0v2c-3 3-5-3-8 0s-5-3-8 0z"),
  up: svg("M12 6l7 9H5z"), down: svg("M12 18l-7-9h14z"), remove: svg("M6 5l13 13-1 1L5 6zM18 5l1 1L6 19l-1-1z"),
};

function token() { return localStorage.getItem("tonearm-token") || ""; }
function authHeaders() {
  if (!state.config.requires_token) return {};
  let t = token();
  if (!t) { t = prompt("This server needs its token for uploads and writes (printed by `tonearm serve`):") || ""; localStorage.setItem("tonearm-token", t); }
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
function clock(s) { if (s == null || !isFinite(s)) return "0:00"; s = Math.floor(s); const m = Math.floor(s / 60); return `${m}:${String(s % 60).padStart(2, "0")}`; }
function showError(err) { $("#explain").innerHTML = `<span class="error">${esc(err.message || err)}</span>`; }
function titleOf(r) { return r.title || (r.path || "").split("/").pop() || r.id; }
function coverOf(r, size = 96) { return r.cover ? r.cover.replace(/size=\d+/, `size=${size}`) : `/api/covers/${r.album_id || r.id}?size=${size}`; }

// A queue entry keeps what the player bar shows; any result, album track or map point converts to one.
function entry(r, source = "user") {
  return { id: r.id, title: titleOf(r), artist: r.artist || "", album: r.album || "", album_id: r.album_id || null,
           duration: r.duration || null, cover: coverOf(r, 96), source, start: r.start ?? (r.match ? r.match.start : null) };
}

function why(r) {
  const parts = [];
  if (r.modes) parts.push("found by " + Object.entries(r.modes).map(([m, k]) => `${m} #${k}`).join(", "));
  if (r.passage) parts.push(`${r.start != null ? "[" + clock(r.start) + "] " : ""}<mark>${esc(r.passage.slice(0, 180))}</mark>`);
  if (r.emotions) parts.push("emotions: " + esc(r.emotions));
  if (r.tags) parts.push("tags: " + Object.entries(r.tags).map(([t, p]) => `${esc(t)} ${p.toFixed(2)}`).join(", "));
  if (r.match) parts.push(`tune found at ${r.match.start.toFixed(1)}–${r.match.end.toFixed(1)} s`);
  if (r.left != null) parts.push(`left at ${clock(r.left)}${r.duration ? " of " + clock(r.duration) : ""}: plays on from there`);
  return parts.join(" · ");
}

// One track row: cover, play, title (opens the track page), artist/album links, why it is here, queue actions.
function trackRow(r, opts = {}) {
  const li = document.createElement("li");
  li.className = "track";
  li.dataset.id = r.id;
  const title = titleOf(r);
  // a hum result opens its track page with the matched span marked on the loudness strip
  const link = opts.link || (r.match ? `#/track/${r.id}?from=${r.match.start.toFixed(1)}&to=${r.match.end.toFixed(1)}` : `#/track/${r.id}`);
  const meta = [r.artist ? esc(r.artist) : "", r.album_id ? `<a href="#/album/${r.album_id}">${esc(r.album || "album")}</a>` : esc(r.album || ""),
                r.genre ? `<a href="#/genre/${encodeURIComponent(r.genre)}">${esc(r.genre)}</a>` : ""].filter(Boolean).join(" · ");
  li.innerHTML = `
    <img class="cover" src="${esc(coverOf(r, 96))}" alt="" width="48" height="48" loading="lazy">
    <button class="play" type="button" aria-label="Play ${esc(title)}">${ICON.play}</button>
    <div class="body"><a class="title" href="${esc(link)}">${esc(title)}</a>
      <div class="meta">${meta}${r.duration ? ` · ${clock(r.duration)}` : ""}</div>
      ${opts.why === false ? "" : `<div class="why">${why(r)}</div>`}</div>
    <div class="actions">
      ${r.score != null ? `<span class="score">${Number(r.score).toFixed(3)}</span>` : ""}
      <button class="play-next" type="button" aria-label="Play ${esc(title)} next">${ICON.playNext}</button>
      <button class="add" type="button" aria-label="Add ${esc(title)} to the queue">${ICON.add}</button>
      <button class="more" type="button" aria-label="More like ${esc(title)}">${ICON.more}</button>
    </div>`;
  li.querySelector(".play").onclick = () => (opts.onPlay ? opts.onPlay() : playNow(entry(r)));
  li.querySelector(".play-next").onclick = () => { playNext([entry(r)]); announce(`${title} plays next`); };
  li.querySelector(".add").onclick = () => { addToQueue([entry(r)]); announce(`${title} added to the queue`); };
  li.querySelector(".more").onclick = () => moreLike(r.id);
  return li;
}

function fillTracks(ol, rows, opts = {}) {
  ol.innerHTML = "";
  rows.forEach((r, i) => ol.appendChild(trackRow(r, { ...opts, onPlay: opts.playAll ? () => playList(rows.map((x) => entry(x)), i) : null })));
}

function albumCard(a) {
  const li = document.createElement("li");
  li.className = "card";
  li.innerHTML = `<a href="#/album/${a.id}"><img src="${esc(a.cover)}" alt="" width="160" height="160" loading="lazy">
      <span class="card-title">${esc(a.name)}</span><span class="card-sub">${esc([a.artist, a.year].filter(Boolean).join(" · "))}</span></a>
    <button class="card-play" type="button" aria-label="Play ${esc(a.name)}">${ICON.play}</button>`;
  li.querySelector(".card-play").onclick = async () => {
    try { const al = await api(`/api/albums/${a.id}`); playList(al.tracks.map((t) => entry(t)), 0); } catch (e) { announce(e.message); }
  };
  return li;
}

function artistChip(a) {
  const li = document.createElement("li");
  li.innerHTML = `<a href="#/artist/${a.id}"><img src="${esc(a.cover)}" alt="" width="40" height="40" loading="lazy">${esc(a.name)} <span class="count">${a.songs}</span></a>`;
  return li;
}

// Short messages for screen readers and everyone else (queue changes, likes, background errors).
let toastTimer = null;
function announce(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}
