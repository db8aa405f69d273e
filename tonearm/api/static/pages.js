// Pages: home, results, album, artist, genre, track (with its loudness strip), map, queue.
"use strict";

// ---- results ---------------------------------------------------------------------------------
function render(payload, label, key) {
  // key: the address's query when the results came from it; a search without one takes plain #/search
  if (key ? key !== state.searchKey : false) return; // a newer search was asked for meanwhile
  state.results = payload.results || [];
  state.resultsLabel = label || "";
  const q = payload.query || {};
  if (!key) { state.searchKey = null; if (location.hash !== "#/search") location.hash = "#/search"; }
  $("#explain").textContent = (label || "") + (q.explain ? " — " + q.explain : "") + (state.results.length ? "" : " — no results");
  $("#results-actions").hidden = !state.results.length;
  fillTracks($("#results"), state.results, { playAll: false });
  if (state.map) drawMap();
}
$("#results-play").onclick = () => playList(state.results.map((r) => entry(r)), 0);
$("#results-queue").onclick = () => { addToQueue(state.results.map((r) => entry(r))); announce(`${state.results.length} tracks added to the queue`); };

function moreLike(id) { location.hash = searchHash({ like: id, view: "sound" }); }

// ---- home ------------------------------------------------------------------------------------
const albumsPage = { offset: 0, total: 0, sort: "name", loading: false, limit: 48 };
async function showHome() {
  try {
    const h = await api("/api/home");
    const c = h.counts;
    $("#home-counts").innerHTML = `${c.tracks} tracks · ${c.albums} albums · ${c.artists} artists · ${c.genres} genres` +
      (c.starred ? ` · ${c.starred} liked` : "");
    const fail = $("#home-failures");
    fail.hidden = !c.failed;
    if (c.failed) {
      $("summary", fail).textContent = `${c.failed} file(s) could not be indexed`;
      $("ul", fail).innerHTML = h.failures.map((f) => `<li><code>${esc(f.path)}</code>: ${esc(f.reason)}</li>`).join("");
    }
    const recent = $("#home-recent"); recent.innerHTML = "";
    h.recent_albums.forEach((a) => recent.appendChild(albumCard(a)));
    const artists = $("#home-artists"); artists.innerHTML = "";
    h.artists.forEach((a) => artists.appendChild(artistChip(a)));
    $("#home-genres").innerHTML = h.genres.map((g) => `<li><a href="#/genre/${encodeURIComponent(g.name)}">${esc(g.name)} <span class="count">${g.songs}</span></a></li>`).join("");
    const resume = h.continue_listening || [];
    $("#home-resume-box").hidden = !resume.length;
    fillTracks($("#home-resume"), resume.map((r) => ({ ...r, left: r.position })), { why: true });
    $("#home-played-box").hidden = !h.recently_played.length;
    fillTracks($("#home-played"), h.recently_played, { why: false, playAll: true });
    if (!albumsPage.offset) await moreAlbums();
  } catch (e) { $("#home-counts").innerHTML = `<span class="error">${esc(e.message)}</span>`; }
}
async function moreAlbums(reset = false) {
  if (albumsPage.loading) return;
  if (reset) { albumsPage.offset = 0; $("#home-albums").innerHTML = ""; }
  albumsPage.loading = true;
  try {
    const out = await api(`/api/albums?sort=${albumsPage.sort}&offset=${albumsPage.offset}&limit=${albumsPage.limit}`);
    out.albums.forEach((a) => $("#home-albums").appendChild(albumCard(a)));
    albumsPage.offset += out.albums.length; albumsPage.total = out.total;
    $("#more-albums").hidden = albumsPage.offset >= out.total;
  } catch (e) { announce(e.message); }
  finally { albumsPage.loading = false; }
}
$("#more-albums").onclick = () => moreAlbums();
$("#album-sort").onchange = () => { albumsPage.sort = $("#album-sort").value; moreAlbums(true); };
// Scrolling near the end of the album grid loads the next page (the button stays for keyboards).
new IntersectionObserver((seen) => { if (seen.some((s) => s.isIntersecting) && !$("#view-home").hidden && albumsPage.offset && albumsPage.offset < albumsPage.total) moreAlbums(); },
  { rootMargin: "400px" }).observe($("#more-albums").parentElement);

// ---- album, artist, artists, genre ----------------------------------------------------------------
function pageHead(el, { cover, title, sub, buttons }) {
  el.innerHTML = `<div class="page-head">${cover ? `<img class="big-cover" src="${esc(cover)}" alt="" width="200" height="200">` : ""}
    <div><h2>${esc(title)}</h2><p class="meta">${sub}</p><p class="list-actions">${buttons}</p></div></div>`;
}
async function showAlbum(id) {
  const el = $("#view-album");
  try {
    const a = await api(`/api/albums/${id}`);
    pageHead(el, { cover: a.cover, title: a.name,
      sub: `<a href="#/artist/${a.artist_id}">${esc(a.artist)}</a>${a.year ? " · " + a.year : ""}${a.genre ? ` · <a href="#/genre/${encodeURIComponent(a.genre)}">${esc(a.genre)}</a>` : ""} · ${a.songs} tracks · ${clock(a.duration)}`,
      buttons: `<button id="al-play" type="button">▶ Play</button> <button id="al-queue" type="button">+ Queue</button> <button id="al-radio" type="button">Start radio</button>` });
    const ol = document.createElement("ol"); ol.className = "tracks"; el.appendChild(ol);
    fillTracks(ol, a.tracks, { why: false, playAll: true });
    const entries = () => a.tracks.map((t) => entry(t));
    $("#al-play").onclick = () => playList(entries(), 0);
    $("#al-queue").onclick = () => { addToQueue(entries()); announce(`${a.name} added to the queue`); };
    $("#al-radio").onclick = () => startRadio(entries().slice(0, 3), `radio from ${a.name}`);
  } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}
// An artist's or a genre's page: a head with Play and Start radio, its albums, its tracks.
function collectionPage(el, prefix, c, cover) {
  pageHead(el, { cover, title: c.name, sub: `${c.albums.length} albums · ${c.songs} tracks`,
    buttons: `<button id="${prefix}-play" type="button">▶ Play all</button> <button id="${prefix}-radio" type="button">Start radio</button>` });
  el.insertAdjacentHTML("beforeend", `<h3>Albums</h3><ul class="grid"></ul><h3>Tracks</h3><ol class="tracks"></ol>`);
  c.albums.forEach((al) => $("ul.grid", el).appendChild(albumCard(al)));
  fillTracks($("ol.tracks", el), c.tracks, { why: false, playAll: true });
  $(`#${prefix}-play`).onclick = () => playList(c.tracks.map((t) => entry(t)), 0);
  $(`#${prefix}-radio`).onclick = () => startRadio(c.tracks.slice(0, 3).map((t) => entry(t)), `radio from ${c.name}`);
}
async function showArtist(id) {
  const el = $("#view-artist");
  try { const a = await api(`/api/artists/${id}`); collectionPage(el, "ar", a, a.cover); }
  catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}
const artistsPage = { offset: 0, total: 0 };
async function showArtists(reset = true) {
  if (reset) { artistsPage.offset = 0; $("#artists-list").innerHTML = ""; }
  try {
    const out = await api(`/api/artists?offset=${artistsPage.offset}&limit=200`);
    out.artists.forEach((a) => $("#artists-list").appendChild(artistChip(a)));
    artistsPage.offset += out.artists.length; artistsPage.total = out.total;
    $("#more-artists").hidden = artistsPage.offset >= out.total;
  } catch (e) { announce(e.message); }
}
$("#more-artists").onclick = () => showArtists(false);
async function showGenre(name) {
  const el = $("#view-genre");
  try { collectionPage(el, "ge", await api(`/api/genres/${encodeURIComponent(name)}?limit=200`), null); }
  catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}

// ---- track page ---------------------------------------------------------------------------------
// `match` = {from, to} in seconds: where a hum or an identified clip was found, drawn on the strip.
async function showTrack(id, match) {
  const el = $("#view-track");
  try {
    const t = await api(`/api/tracks/${id}`);
    const title = titleOf(t);
    const fields = ["genre", "year", "duration", "language", "emotions", "valence", "arousal", "words_source", "popularity"];
    const tags = Object.entries(t.tags || {}).sort((a, b) => b[1] - a[1]).slice(0, 10);
    const me = entry(t);
    el.dataset.track = id;
    // the user's own fields (sidecars, extra tags: style, mood, bpm ...) beside tonearm's
    const extra = Object.entries(t.metadata || {}).filter(([k, v]) => !TRACK_PAGE_SKIPS.has(k) && !fields.includes(k) &&
      v != null && typeof v !== "object" && String(v).length <= 200).slice(0, 12);
    const notes = [t.description, t.comment].filter(Boolean);
    el.innerHTML = `<div class="page-head"><img class="big-cover" src="${esc(t.cover)}" alt="" width="200" height="200">
      <div><h2>${esc(title)}</h2>
      <p class="meta">${t.artist_id ? `<a href="#/artist/${t.artist_id}">${esc(t.artist || t.album_artist || "artist")}</a>` : esc(t.artist || "")}
        ${t.album_id ? ` · <a href="#/album/${t.album_id}">${esc(t.album || t.album_name || "album")}</a>` : ""}</p>
      <p class="list-actions"><button id="t-play" type="button">▶ Play</button> <button id="t-next" type="button">⤵ Play next</button>
      <button id="t-queue" type="button">+ Queue</button> <button id="t-like" type="button" aria-pressed="false">♡ Like</button>
      <button id="t-radio" type="button">Start radio</button> <button id="t-more" type="button">More like this</button>
      <button id="t-words" type="button" ${t.views && t.views.words ? "" : "hidden"}>Similar words</button>
      <button id="t-playlist" type="button">Add to playlist</button> <button id="t-path-from" type="button">Path from here</button>
      <button id="t-path-to" type="button" ${state.pathStart && state.pathStart.id !== id ? "" : "hidden"}>Path here from ${esc(state.pathStart ? state.pathStart.title : "")}</button></p></div></div>
      <figure id="strip-box"><canvas id="strip" width="1000" height="90" role="img" aria-label="Loudness over the track"></canvas>
        <figcaption id="strip-caption"></figcaption></figure>
      ${notes.map((n) => `<p class="notes">${esc(n)}</p>`).join("")}
      <dl>${fields.filter((f) => t[f] != null).map((f) => `<dt>${f}</dt><dd>${esc(f === "duration" ? clock(t[f]) : t[f])}</dd>`).join("")}
        ${extra.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
      ${tags.length ? `<h3>Sound tags</h3><ul class="tags">${tags.map(([k, v]) => `<li>${esc(k)} <span class="tagbar" style="width:${Math.round(v * 200)}px"></span> ${v.toFixed(2)}</li>`).join("")}</ul>` : ""}
      ${t.lyrics_lines ? `<h3>Lyrics</h3><ol class="follow lyrics" aria-label="Lyrics: the line being sung is marked; a line plays from there">${t.lyrics_lines.map((l) => `<li class="passage" tabindex="0" data-at="${l.start}">${esc(l.text)}</li>`).join("")}</ol>`
        : t.lyrics ? `<h3>Lyrics</h3><pre>${esc(t.lyrics)}</pre>` : ""}
      ${t.passages && t.words_source === "transcript" ? `<h3>Transcript</h3><div class="follow">${t.passages.filter((p) => p.source !== "meta").map((p) => `<p class="passage" tabindex="0" data-at="${p.start ?? ""}">[${clock(p.start)}] ${esc(p.text)}</p>`).join("")}</div>` : ""}
      <section id="t-similar-box" aria-labelledby="t-similar-h" hidden><h3 id="t-similar-h">Sounds like</h3><ol id="t-similar" class="tracks"></ol></section>`;
    $("#t-play").onclick = () => playNow(me, match ? match.from : null);
    $("#t-next").onclick = () => { playNext([me]); announce(`${title} plays next`); };
    $("#t-queue").onclick = () => { addToQueue([me]); announce(`${title} added to the queue`); };
    const like = $("#t-like");
    const showLike = (on) => { like.setAttribute("aria-pressed", String(on)); like.textContent = on ? "♥ Liked" : "♡ Like"; };
    api("/api/stars").then((s) => showLike(s.ids.includes(id))).catch(() => {});
    like.onclick = async () => {
      const on = like.getAttribute("aria-pressed") !== "true";
      try { await api(`/api/stars/${id}`, { method: on ? "PUT" : "DELETE", headers: authHeaders() }); showLike(on); const c = current(); if (c && c.id === id) { c.starred = on; showNow(); } }
      catch (e) { announce(e.message); }
    };
    addToPlaylistForm($("#t-playlist"), id, title);
    $("#t-more").onclick = () => moreLike(id);
    $("#t-words").onclick = () => { location.hash = searchHash({ like: id, view: "words" }); };
    $("#t-radio").onclick = () => startRadio([me], `radio from ${title}`);
    $("#t-path-from").onclick = () => { state.pathStart = { id, title }; announce(`Path starts at ${title}: open another track and choose "Path here"`); $("#t-path-from").textContent = "Path starts here ✓"; };
    $("#t-path-to").onclick = async () => { const a = state.pathStart; try { render(await api(`/api/path?from=${a.id}&to=${id}&steps=10`), `Path from ${a.title} to ${title}`); } catch (e) { showError(e); } };
    el.querySelectorAll(".passage").forEach((p) => {
      const go = () => playNow(me, p.dataset.at === "" ? null : Number(p.dataset.at));
      p.onclick = go; p.onkeydown = (e) => { if (e.key === "Enter") go(); };
    });
    drawStrip(id, me, match);
    showSoundsLike(el, id);
    followAlong();
  } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}
// Timed lyrics and transcripts follow the music: while the page's track plays, the line or passage
// being heard is marked and kept in view inside its own scrolling box (the page itself does not jump).
function followAlong() {
  const el = $("#view-track");
  if (el.hidden || el.dataset.track !== player.dataset.track) return;
  const t = player.currentTime;
  for (const box of el.querySelectorAll(".follow")) {
    let now = null;
    for (const line of box.querySelectorAll("[data-at]")) { if (line.dataset.at !== "" && Number(line.dataset.at) <= t + 0.15) now = line; }
    const was = $(".now", box);
    if (was === now) continue;
    if (was) { was.classList.remove("now"); was.removeAttribute("aria-current"); }
    if (!now) continue;
    now.classList.add("now"); now.setAttribute("aria-current", "true");
    const top = now.offsetTop; // the box is positioned: its lines measure from its top
    if (top < box.scrollTop || top + now.offsetHeight > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }
}
// Shown on the track page itself, as players show "sonically similar": the nearest tracks by sound
// (a library without a sound view just has no such section).
const TRACK_PAGE_SKIPS = new Set(["title", "artist", "album", "albumartist", "lyrics", "lyrics_lrc", "comment", "description",
  "track_no", "disc_no", "musicbrainz_trackid", "musicbrainz_albumid", "musicbrainz_artistid", "urls"]);
async function showSoundsLike(el, id) {
  try {
    const out = await api(`/api/tracks/${id}/similar?k=8`);
    if (el.dataset.track !== id || !out.results.length) return; // the page moved on meanwhile
    fillTracks($("#t-similar", el), out.results, { why: false });
    $("#t-similar-box", el).hidden = false;
  } catch (e) { /* no sound view: nothing to show */ }
}
async function drawStrip(id, me, match) {
  const c = $("#strip"), cap = $("#strip-caption");
  try {
    const s = await api(`/api/tracks/${id}/loudness?points=500`);
    state.strip = { id, duration: s.duration, match };
    const g = c.getContext("2d"), w = c.width, h = c.height, n = s.points.length;
    g.clearRect(0, 0, w, h);
    g.fillStyle = "#5a4a3f";
    s.points.forEach((v, i) => { const bh = Math.max(1, v * (h - 6)); g.fillRect((i * w) / n, (h - bh) / 2, Math.max(1, w / n - 0.5), bh); });
    if (match && s.duration) {  // where the hum or the identified clip was found, over the strip
      const x = (match.from / s.duration) * w, mw = Math.max(3, ((match.to - match.from) / s.duration) * w);
      g.fillStyle = "#e07b3966"; g.fillRect(x, 0, mw, h);
      g.strokeStyle = "#a34a17"; g.lineWidth = 3; g.strokeRect(x, 1.5, mw, h - 3);
    }
    cap.textContent = `Loudness over ${clock(s.duration)}` + (match ? ` · the clip matched at ${clock(match.from)}–${clock(match.to)}` : "") + " · click to play from there";
    c.onclick = (ev) => { const r = c.getBoundingClientRect(); playNow(me, ((ev.clientX - r.left) / r.width) * s.duration); };
  } catch (e) { cap.textContent = "no loudness strip: " + e.message; }
}

// ---- library map ----------------------------------------------------------------------------------
const palette = ["#b3541e", "#2f6f8f", "#6a8f2f", "#8f2f6a", "#c9a227", "#4b4b9e", "#2f8f7a", "#9e4b4b", "#777"];
function colourOf(label) { const labels = state.map.labels; const i = labels.indexOf(label); return palette[i >= 0 && i < palette.length - 1 ? i : palette.length - 1]; }
function toScreen(p, c) { const v = state.view; return [c.width / 2 + (p.x * 0.45 * c.width) * v.scale + v.dx, c.height / 2 - (p.y * 0.45 * c.height) * v.scale + v.dy]; }
// Canvas pixels per CSS pixel: the canvas is drawn at 900 px and shown at the page's width, so on a
// phone dots, rings, drags and the reach of a tap are scaled up to stay finger-sized.
function mapUnit(c) { const w = c.getBoundingClientRect().width; return w ? c.width / w : 1; }
function drawMap() {
  const c = $("#map"); const g = c.getContext("2d");
  const u = Math.max(1, mapUnit(c));
  g.clearRect(0, 0, c.width, c.height);
  const hit = new Set(state.results.map((r) => r.id));
  for (const p of state.map.points) {
    const [x, y] = toScreen(p, c);
    g.fillStyle = colourOf(p.label); g.globalAlpha = hit.size && !hit.has(p.id) ? 0.35 : 0.9;
    g.beginPath(); g.arc(x, y, 4 * u, 0, 2 * Math.PI); g.fill();
    if (hit.has(p.id)) { g.globalAlpha = 1; g.strokeStyle = "#000"; g.lineWidth = 2 * u; g.beginPath(); g.arc(x, y, 8 * u, 0, 2 * Math.PI); g.stroke(); }
  }
  g.globalAlpha = 1;
}
// Zoom by `factor` keeping the canvas point (sx, sy) where it is (the wheel's cursor, a pinch's middle).
function zoomMap(factor, sx, sy) {
  const c = $("#map"), v = state.view, cx = c.width / 2, cy = c.height / 2;
  v.dx = sx - cx - (sx - cx - v.dx) * factor; v.dy = sy - cy - (sy - cy - v.dy) * factor; v.scale *= factor;
}
const MAP_COLOURS = [["genre", "genre"], ["album", "album"], ["artist", "artist"], ["emotions", "mood"]];
async function showMap() {
  try {
    const sel = $("#map-color");
    if (!sel.options.length) {
      const known = await api("/api/stats").then((s) => s.fields || []).catch(() => []);
      sel.innerHTML = MAP_COLOURS.filter(([f]) => !known.length || known.includes(f)).map(([f, l]) => `<option value="${f}">${l}</option>`).join("");
    }
    if (!state.map || state.map.color_by !== sel.value) {
      const m = await api(`/api/map?color_by=${encodeURIComponent(sel.value)}`);
      const counts = {};
      for (const p of m.points) counts[p.label] = (counts[p.label] || 0) + 1;
      m.labels = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
      m.color_by = sel.value;
      state.map = m;
      const shown = m.labels.slice(0, palette.length - 1);
      $("#legend").innerHTML = shown.map((l) => `<li><span style="background:${colourOf(l)}"></span>${esc(l === "null" || l === "undefined" ? "(none)" : l)} (${counts[l]})</li>`).join("") +
        (m.labels.length > shown.length ? `<li><span style="background:${palette[palette.length - 1]}"></span>other (${m.labels.length - shown.length} more)</li>` : "");
    }
    drawMap();
  } catch (e) { showError(e); }
}
$("#map-color").onchange = () => showMap();
(function mapControls() {
  // One pointer drags (a still tap or click plays the nearest dot); two pinch to zoom.
  const c = $("#map"); const down = new Map(); let drag = null, pinch = null;
  const at = (e) => { const r = c.getBoundingClientRect(); return [(e.clientX - r.left) * c.width / r.width, (e.clientY - r.top) * c.height / r.height]; };
  const spread = () => { const [a, b] = [...down.values()]; return { d: Math.hypot(a[0] - b[0], a[1] - b[1]), mx: (a[0] + b[0]) / 2, my: (a[1] + b[1]) / 2 }; };
  c.addEventListener("wheel", (e) => { e.preventDefault(); const [x, y] = at(e); zoomMap(e.deltaY < 0 ? 1.2 : 1 / 1.2, x, y); drawMap(); }, { passive: false });
  c.addEventListener("pointerdown", (e) => {
    down.set(e.pointerId, at(e));
    if (down.size === 2) { pinch = { ...spread(), view: { ...state.view } }; drag = null; }
    else if (down.size === 1) { const [x, y] = at(e); drag = { x, y, moved: false }; }
  });
  c.addEventListener("pointermove", (e) => {
    if (!down.has(e.pointerId)) return;
    down.set(e.pointerId, at(e));
    if (pinch && down.size === 2) { // what was under the fingers' middle at the start stays under it
      const now = spread(), f = pinch.d > 0 && now.d > 0 ? now.d / pinch.d : 1, v0 = pinch.view;
      const cx = c.width / 2, cy = c.height / 2;
      Object.assign(state.view, { scale: v0.scale * f, dx: now.mx - cx - (pinch.mx - cx - v0.dx) * f,
                                  dy: now.my - cy - (pinch.my - cy - v0.dy) * f });
      drawMap(); return;
    }
    if (!drag) return;
    const [x, y] = at(e), dx = x - drag.x, dy = y - drag.y;
    if ((Math.abs(dx) + Math.abs(dy)) / mapUnit(c) > (e.pointerType === "touch" ? 8 : 3)) drag.moved = true;
    if (drag.moved) { state.view.dx += dx; state.view.dy += dy; drag.x = x; drag.y = y; drawMap(); }
  });
  const lift = (e) => { down.delete(e.pointerId); if (down.size < 2) pinch = null; };
  c.addEventListener("pointercancel", (e) => { lift(e); drag = null; });
  c.addEventListener("pointerup", (e) => {
    const wasTap = drag && !drag.moved && down.size === 1; lift(e); drag = null;
    if (!wasTap || !state.map) return;
    const [sx, sy] = at(e), reach = (e.pointerType === "touch" ? 24 : 12) * mapUnit(c);
    let best = null, bd = reach * reach;
    for (const p of state.map.points) { const [x, y] = toScreen(p, c); const d = (x - sx) ** 2 + (y - sy) ** 2; if (d < bd) { bd = d; best = p; } }
    if (best) playNow(entry(best));
  });
  c.addEventListener("keydown", (e) => {
    const v = state.view, step = 30;
    if (e.key === "+" || e.key === "=") v.scale *= 1.2; else if (e.key === "-") v.scale /= 1.2;
    else if (e.key === "ArrowLeft") v.dx += step; else if (e.key === "ArrowRight") v.dx -= step;
    else if (e.key === "ArrowUp") v.dy += step; else if (e.key === "ArrowDown") v.dy -= step; else return;
    e.preventDefault(); drawMap();
  });
})();
