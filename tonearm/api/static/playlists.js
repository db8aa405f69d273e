// Saved playlists: the list, one playlist's page, and "Save as playlist" under the queue and under results.
// They are the library's playlists, the same ones Subsonic players show (/api/playlists).
"use strict";

function tracksWord(n) { return `${n} track${n === 1 ? "" : "s"}`; }

function playlistCard(p) {
  const li = document.createElement("li");
  li.className = "card";
  const cover = p.cover ? `<img src="${esc(p.cover)}" alt="" width="160" height="160" loading="lazy">` : `<span class="card-blank" aria-hidden="true">♫</span>`;
  li.innerHTML = `<a href="#/playlist/${encodeURIComponent(p.id)}">${cover}
      <span class="card-title">${esc(p.name)}</span><span class="card-sub">${tracksWord(p.songs)} · ${clock(p.duration)}</span></a>
    <button class="card-play" type="button" aria-label="Play ${esc(p.name)}">${ICON.play}</button>`;
  li.querySelector(".card-play").onclick = async () => {
    try { const full = await api(`/api/playlists/${encodeURIComponent(p.id)}`); playList(full.tracks.map((t) => entry(t)), 0); }
    catch (e) { announce(e.message); }
  };
  return li;
}

async function showPlaylists() {
  const ul = $("#playlists-list");
  try {
    const out = await api("/api/playlists");
    ul.innerHTML = "";
    out.playlists.forEach((p) => ul.appendChild(playlistCard(p)));
    $("#playlists-empty").hidden = out.playlists.length > 0;
  } catch (e) { ul.innerHTML = `<li class="error">${esc(e.message)}</li>`; }
}

async function showPlaylist(id) {
  const el = $("#view-playlist");
  el.innerHTML = `<p class="meta">loading…</p>`; // not the last playlist's rows and buttons meanwhile
  let p;
  try { p = await api(`/api/playlists/${encodeURIComponent(id)}`); }
  catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
  const missing = p.missing ? ` · ${p.missing} no longer in the library` : "";
  pageHead(el, { cover: p.cover, title: p.name, sub: `playlist · ${tracksWord(p.songs)} · ${clock(p.duration)}${missing}${p.comment ? " · " + esc(p.comment) : ""}`,
    buttons: `<button id="pl-play" type="button">▶ Play</button> <button id="pl-queue" type="button">+ Queue</button>
      <button id="pl-radio" type="button">Start radio</button> <button id="pl-rename" type="button">Rename</button>
      <button id="pl-delete" type="button">Delete</button>` });
  el.insertAdjacentHTML("beforeend", `<form id="pl-rename-form" class="inline-form" hidden><label for="pl-name">New name</label>
      <input id="pl-name" maxlength="200" required><button type="submit">Save</button></form><ol class="tracks"></ol>`);
  const ol = $("ol.tracks", el);
  const tracks = p.tracks.slice();
  const draw = () => {
    fillTracks(ol, tracks, { why: false, playAll: true });
    ol.querySelectorAll("li.track").forEach((li, i) => {
      const b = document.createElement("button");
      b.type = "button"; b.className = "remove"; b.innerHTML = ICON.remove;
      b.setAttribute("aria-label", `Remove ${titleOf(tracks[i])} from the playlist`);
      b.onclick = async () => {
        const gone = tracks[i], kept = tracks.filter((_, j) => j !== i);
        try { await savePlaylist(p.id, { tracks: kept.map((t) => t.id) }); tracks.splice(i, 1); draw(); announce(`${titleOf(gone)} removed from the playlist`); }
        catch (e) { announce(e.message); }
      };
      $(".actions", li).appendChild(b);
    });
  };
  draw();
  const entries = () => tracks.map((t) => entry(t));
  $("#pl-play").onclick = () => playList(entries(), 0);
  $("#pl-queue").onclick = () => { addToQueue(entries()); announce(`${p.name} added to the queue`); };
  $("#pl-radio").onclick = () => startRadio(entries().slice(0, 3), `radio from ${p.name}`);
  $("#pl-rename").onclick = () => { const f = $("#pl-rename-form"); f.hidden = !f.hidden; $("#pl-name").value = p.name; if (!f.hidden) $("#pl-name").focus(); };
  $("#pl-rename-form").onsubmit = async (ev) => {
    ev.preventDefault();
    try { const out = await savePlaylist(p.id, { name: $("#pl-name").value }); $("h2", el).textContent = p.name = out.name; $("#pl-rename-form").hidden = true; announce("Renamed"); }
    catch (e) { announce(e.message); }
  };
  // two presses: the first asks, the second deletes (no dialog box to get in the way)
  $("#pl-delete").onclick = async () => {
    const b = $("#pl-delete");
    if (!b.dataset.armed) { b.dataset.armed = "1"; b.textContent = "Delete for good?"; return; }
    try { await api(`/api/playlists/${encodeURIComponent(p.id)}`, { method: "DELETE", headers: authHeaders() }); announce(`${p.name} deleted`); location.hash = "#/playlists"; }
    catch (e) { announce(e.message); }
  };
}

function savePlaylist(id, change) {
  return api(`/api/playlists/${encodeURIComponent(id)}`, { method: "PUT", headers: { "Content-Type": "application/json", ...authHeaders() }, body: JSON.stringify(change) });
}

// "Save as playlist": a button that opens a small name form; `ids()` gives the tracks at the time of saving.
function saveAsPlaylist(button, ids, suggest) {
  const form = document.createElement("form");
  form.className = "inline-form"; form.hidden = true;
  const fid = button.id + "-name";
  form.innerHTML = `<label for="${fid}">Playlist name</label><input id="${fid}" maxlength="200" required><button type="submit">Save</button>`;
  button.closest("p").after(form);
  button.onclick = () => { form.hidden = !form.hidden; if (!form.hidden) { $("input", form).value = suggest(); $("input", form).select(); } };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const tracks = ids();
    if (!tracks.length) { announce("Nothing to save: the list is empty"); return; }
    try {
      const p = await api("/api/playlists", { method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() },
        body: JSON.stringify({ name: $("input", form).value, tracks }) });
      form.hidden = true;
      announce(`Saved as ${p.name}`);
      location.hash = `#/playlist/${encodeURIComponent(p.id)}`;
    } catch (e) { announce(e.message); }
  };
}
// "Add to playlist" on a track page: pick one of the playlists, or start a new one named after the track.
function addToPlaylistForm(button, id, title) {
  const form = document.createElement("form");
  form.className = "inline-form"; form.hidden = true;
  form.innerHTML = `<label for="t-playlist-pick">Playlist</label><select id="t-playlist-pick"></select><button type="submit">Add</button>`;
  button.closest("p").after(form);
  const pick = $("select", form);
  button.onclick = async () => {
    form.hidden = !form.hidden;
    if (form.hidden) return;
    try {
      const { playlists } = await api("/api/playlists");
      pick.innerHTML = playlists.map((p) => `<option value="${esc(p.id)}">${esc(p.name)} (${tracksWord(p.songs)})</option>`).join("") +
        `<option value="">a new playlist: ${esc(title)}</option>`;
      pick.focus();
    } catch (e) { announce(e.message); }
  };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const headers = { "Content-Type": "application/json", ...authHeaders() };
    try {
      const p = pick.value
        ? await api(`/api/playlists/${encodeURIComponent(pick.value)}`, { method: "PUT", headers, body: JSON.stringify({ add: [id] }) })
        : await api("/api/playlists", { method: "POST", headers, body: JSON.stringify({ name: title, tracks: [id] }) });
      form.hidden = true;
      announce(`${title} added to ${p.name}`);
    } catch (e) { announce(e.message); }
  };
}

saveAsPlaylist($("#queue-save"), () => queue.items.map((e) => e.id), () => (radio.on ? "Radio " : "Queue ") + new Date().toLocaleDateString());
saveAsPlaylist($("#results-save"), () => state.results.map((r) => r.id), () => state.resultsLabel || "Results");
