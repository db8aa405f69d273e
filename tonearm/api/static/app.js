// tonearm web app: routes (#/..., the player keeps playing across them) and start-up.
"use strict";
const VIEWS = ["home", "search", "album", "artist", "artists", "genre", "track", "queue", "map", "playlists", "playlist"];

function route() {
  const h = location.hash || "#/";
  const [path, query] = h.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const name = parts[0] || "home";
  const view = VIEWS.includes(name) ? name : "home";
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== view;
  $("#tools").hidden = !(view === "home" || view === "search");
  document.querySelectorAll("header nav a").forEach((a) => a.toggleAttribute("aria-current", a.getAttribute("href") === (view === "home" ? "#/" : `#/${view}`)));
  const arg = decodeURIComponent(parts.slice(1).join("/"));
  if (view === "home") showHome();
  else if (view === "album") showAlbum(arg);
  else if (view === "artist") showArtist(arg);
  else if (view === "artists") showArtists();
  else if (view === "genre") showGenre(arg);
  else if (view === "track") {
    const q = new URLSearchParams(query || "");
    const match = q.has("from") ? { from: Number(q.get("from")), to: Number(q.get("to") || q.get("from")) } : null;
    showTrack(arg, match);
  } else if (view === "search") showSearch(query);
  else if (view === "queue") renderQueue();
  else if (view === "playlists") showPlaylists();
  else if (view === "playlist") showPlaylist(arg);
  else if (view === "map") showMap();
  if (view !== "search" && view !== "home") window.scrollTo(0, 0);
}
window.addEventListener("hashchange", route);

async function loadStats() {
  try { const s = await api("/api/stats"); $("#stats").textContent = `${s.tracks} tracks · views: ${Object.keys(s.views).join(", ")}`; }
  catch (e) { $("#stats").textContent = e.message; }
}
(async function init() {
  try { state.config = await api("/api/config"); } catch (e) { state.config = {}; }
  $("#index").hidden = !state.config.can_index;
  loadStats(); route(); watchRunningJob();
})();
