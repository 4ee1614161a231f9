// The live page: state arrives as Server-Sent Events (/events); the video is the <img> on /video.mjpg.
"use strict";
const $ = (id) => document.getElementById(id);
// Class names come from the model file: never trusted as HTML.
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function bars(probs, colors) {
  return Object.entries(probs).map(([name, p]) =>
    `<div class="bar"><span>${esc(name)}</span><div style="width:${Math.round(p * 120)}px;background:${colors[name] || "#888"}"></div>` +
    `<span>${Math.round(p * 100)}%</span></div>`).join("");
}

function drawStrip(strip, classes, colors) {
  const canvas = $("strip"), ctx = canvas.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const column = canvas.width / Math.max(strip.length, 1);
  strip.forEach((probs, x) => {  // stacked class colours per 0.25 s sample, oldest on the left
    let top = 0;
    probs.forEach((p, c) => {
      ctx.fillStyle = colors[classes[c]] || "#888";
      ctx.fillRect(x * column, top, Math.ceil(column), p * canvas.height);
      top += p * canvas.height;
    });
  });
}

function show(state) {
  const s = state.stats || {};
  $("stats").textContent = `${(s.fps || 0).toFixed(0)} FPS · ${s.engine || "?"} · ${s.detector || "?"} · dropped ${s.dropped || 0}` +
    (s.nonfinite ? ` · model NaN/Inf for ${s.nonfinite} face(s)` : "");
  const main = state.main;
  $("mood").textContent = main ? `#${main.id} ${main.label} ${Math.round(main.score * 100)}% → ${main.mood}` : "no face in view";
  drawStrip(state.strip || [], state.classes || [], state.colors || {});
  $("faces").innerHTML = (state.faces || []).map((f) =>
    `<div class="face"><b>#${esc(f.id)} ${esc(f.label)}</b>${bars(f.probs, state.colors || {})}</div>`).join("") || "none";
  const music = state.music || {};
  const link = music.url ? ` <a href="${encodeURI(music.url)}" target="_blank" rel="noopener">open</a>` : "";
  $("music").innerHTML = "";
  $("music").textContent = music.status || "";
  if (link) $("music").insertAdjacentHTML("beforeend", link);
  showDJ(music.dj);
}

function showDJ(dj) {
  // textContent only: titles, artists and reasons come from Spotify and the room, never as HTML
  const on = Boolean(dj && dj.on);
  if (document.activeElement !== $("dj")) $("dj").checked = on;
  if (dj && document.activeElement !== $("dj-target")) $("dj-target").value = dj.target;
  $("dj-status").textContent = !dj ? "off" : dj.status || (on ? "on" : "off");
  const now = dj && dj.now_playing;
  $("dj-now").textContent = now ? `now playing: ${now.title} – ${now.artist} · why: ${now.why}` : "";
  const next = (dj && dj.up_next) || [];
  $("dj-next").textContent = next.length ? `up next: ${next.map((t) => `${t.title} – ${t.artist}`).join(", ")}` : "";
}

async function commandDJ(command) {
  const answer = await fetch("/api/dj", {method: "POST", headers: {"X-Emotion-DJ": "1", "Content-Type": "application/json"},
                                         body: JSON.stringify(command)});
  if (!answer.ok) $("dj-status").textContent = `refused (${answer.status})`;
}

$("dj").addEventListener("change", () => commandDJ({on: $("dj").checked}));
$("dj-target").addEventListener("change", () => commandDJ({target: $("dj-target").value}));

const events = new EventSource("/events");
events.onmessage = (message) => show(JSON.parse(message.data));
events.onerror = () => { $("stats").textContent = "disconnected: retrying…"; };

$("playlist").addEventListener("click", async () => {
  $("music").textContent = "asking for a playlist…";
  const answer = await fetch("/api/playlist", {method: "POST", headers: {"X-Emotion-DJ": "1"}});
  if (!answer.ok) $("music").textContent = `refused (${answer.status})`;
});
