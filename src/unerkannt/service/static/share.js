// The page a share link opens. The key is the link's fragment (after "#"): browsers never
// send it to a server, so this page reads it and sends it in a header to fetch the photo.
"use strict";

const TEXT = {
  en: {
    tagline: "A photo shared with you, its faces protected.", opening: "Opening the photo…", download: "Download",
    about: "Each opening of this link counts as a view. The link itself is the key to the photo: the server keeps the photo sealed and cannot open it without the link.",
    incomplete: "This link is not complete: the part after “#” is missing. Ask for the whole link.",
    gone: "This photo is no longer available: the link expired, its views are used up, it was ended, or it is not complete.",
    failed: "The photo could not be opened: {msg}", alt: "The shared photo",
    until: "Available until {until}.", left: " Views left after this one: {n}.", last: " This was the last view: save the photo now if you need it.",
  },
  de: {
    tagline: "Ein mit Ihnen geteiltes Foto, die Gesichter geschützt.", opening: "Öffne das Foto…", download: "Herunterladen",
    about: "Jedes Öffnen dieses Links zählt als Aufruf. Der Link selbst ist der Schlüssel zum Foto: der Server bewahrt das Foto verschlüsselt auf und kann es ohne den Link nicht öffnen.",
    incomplete: "Dieser Link ist unvollständig: der Teil nach „#“ fehlt. Bitten Sie um den ganzen Link.",
    gone: "Dieses Foto ist nicht mehr verfügbar: der Link ist abgelaufen, seine Aufrufe sind verbraucht, er wurde beendet, oder er ist unvollständig.",
    failed: "Das Foto ließ sich nicht öffnen: {msg}", alt: "Das geteilte Foto",
    until: "Verfügbar bis {until}.", left: " Verbleibende Aufrufe nach diesem: {n}.", last: " Das war der letzte Aufruf: speichern Sie das Foto jetzt, falls Sie es brauchen.",
  },
};
const lang = TEXT[(navigator.language || "en").slice(0, 2).toLowerCase()] ? (navigator.language || "en").slice(0, 2).toLowerCase() : "en";
const t = (key, vars = {}) => TEXT[lang][key].replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
const $ = (id) => document.getElementById(id);

async function show() {
  document.documentElement.lang = lang;
  $("shown").hidden = true;
  $("download").hidden = true;
  $("status").textContent = t("opening");
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  const id = decodeURIComponent(location.pathname.split("/").pop() || "");
  const key = location.hash.slice(1);
  const status = $("status");
  if (!key) { status.textContent = t("incomplete"); return; }
  try {
    const response = await fetch(`/v1/shares/${encodeURIComponent(id)}`, { headers: { "X-Unerkannt-Key": key }, cache: "no-store" });
    if (response.status === 410) { status.textContent = t("gone"); return; }
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    const url = URL.createObjectURL(await response.blob());
    $("photo").src = url;
    $("photo").alt = t("alt");
    const left = response.headers.get("X-Unerkannt-Views-Left");
    const locale = (navigator.language || "").toLowerCase().startsWith(lang) ? navigator.language : lang === "en" ? "en-GB" : lang;
    const until = new Date(response.headers.get("X-Unerkannt-Expires-At")).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
    $("terms").textContent = t("until", { until }) + (left === "0" ? t("last") : left && left !== "unlimited" ? t("left", { n: left }) : "");
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1] || "shared";
    const link = $("download");
    link.href = url; link.download = name; link.hidden = false;
    $("shown").hidden = false;
    status.textContent = "";
  } catch (err) {
    status.textContent = t("failed", { msg: String(err.message || err) });
  }
}

document.addEventListener("DOMContentLoaded", show);
window.addEventListener("hashchange", show);  // another key typed into the same page
