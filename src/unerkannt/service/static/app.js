// unerkannt web page: photos stay in this tab; the server protects each one and keeps nothing.
"use strict";

const TEXT = {
  en: {
    tagline: "Make photos safe to publish against face recognition.",
    language: "Language", options: "Options", method: "How faces are hidden",
    method_fill: "Fill (irreversible, recommended)", method_pixelate: "Pixelate (weaker)", method_blur: "Blur (weaker)",
    method_natural: "Natural (rebuilt from the surroundings)",
    method_synthetic: "Face of no one (a drawn stand-in)",
    format: "File format", format_same: "Same as the photo",
    weak_warning: "This method is weaker than fill: blurred or pixelated faces can be partly restored or matched by face-search engines. Use fill to publish.",
    add: "Photos", drop: "Drop photos here, or", choose: "Choose photos",
    privacy: "Photos stay in this tab. The server protects each one and keeps nothing; this page forgets them after a while without use.",
    help: "Every face found is outlined and hidden. Click a face (or focus it and press Enter) to leave it visible or hide it again. Drag on the photo to hide a face that was missed, or use “Add box” and move it with the arrow keys (Shift + arrows: size, Delete: remove).",
    zip: "Download all (ZIP)", clear: "Forget all photos", add_box: "Add box", download: "Download", remove: "Remove",
    noscript: "This page needs JavaScript. The API works without it: POST /v1/protect.",
    results: "Results", working: "Finding faces…", updating: "Protecting…",
    done: "{n} face(s) found, {hidden} hidden.", failed: "Not protected: {msg}", busy: "The server is busy; trying again…",
    face_protected: "Face {i}: hidden. Press Enter to leave it visible.",
    face_visible: "Face {i}: VISIBLE. Press Enter to hide it.",
    face_manual: "Box {i} you added: hidden. Arrow keys move it, Shift + arrows resize, Delete removes.",
    visible_warning: "{n} face(s) stay visible on purpose: anyone can search for them. The second detector's check is off for this photo.",
    animated: "Animated image: every face found is hidden; single faces cannot be left visible.",
    expired: "The photos were forgotten after {min} minutes without use.",
    photo_alt: "Protected photo: {name}", overlay: "Faces in {name}",
    share: "Share", share_title: "A link that ends by itself", share_expiry: "The link ends after",
    share_1h: "1 hour", share_1d: "1 day", share_7d: "7 days", share_30d: "30 days",
    share_limit: "or earlier, after this many views:", share_views: "Views",
    share_hint: "The server keeps the protected photo sealed with a key that is only in the link; the original is not kept. Anyone who has the link can see the photo, and save it, until the link ends.",
    share_create: "Create link", share_link: "Link", share_copy: "Copy link", share_end: "End it now",
    share_working: "Protecting and sealing…", share_made: "The link works until {until}{views}.", share_views_left: " or for {n} view(s)",
    share_copied: "Link copied.", share_copy_failed: "Select the link and copy it yourself.", share_ended: "The link has ended; the photo is gone from the server.",
    share_failed: "No link: {msg}",
    rights: "Your rights",
    rights_intro: "If PimEyes, Clearview AI or another company may hold photos of your face, the GDPR lets you ask what it holds (Article 15), have it erased (Article 17), object (Article 21) and complain to a data protection authority (Article 77). Fill in the form to get the letter, ready to send. It is written by this server and kept nowhere; the page sends it nowhere else.",
    r_kind: "What do you want?", r_access: "Ask what they hold about me (access, Article 15)", r_erasure: "Have it erased (erasure, Article 17)",
    r_objection: "Object to the processing (Article 21)", r_complaint: "Complain to a data protection authority (Article 77)",
    r_to: "Company", r_other_company: "Another company…", r_company_name: "Name of the company",
    r_company_address: "Its postal address (one line each)", r_company_email: "Its e-mail address for data-protection requests",
    r_authority: "Authority (where you live or work)", r_other_authority: "Another authority…", r_lead_authority: "The company's lead authority",
    r_authority_name: "Name of the authority", r_authority_address: "Its postal address (one line each)", r_authority_email: "Its e-mail address",
    r_request_date: "When did you send your request to the company?", r_reply: "What did the company answer?",
    r_reply_none: "Nothing", r_reply_refused: "It refused", r_reply_incomplete: "An incomplete answer",
    r_reason: "Your own reasons (optional, one paragraph)",
    r_photo: "Enclose one photo of my face (everything else blacked out), so that they can find their data",
    r_name: "Your name", r_email: "Your e-mail address (for the answer)",
    r_address: "Your postal address (one line each; optional with an e-mail address)", r_lang: "Write the letter in",
    r_write: "Write the letter", r_text: "Your letter", r_copy: "Copy the letter", r_download: "Download (.txt)",
    r_notes: "Notes for you (not part of the letter)", r_writing: "Writing…", r_done: "Your letter is ready below.",
    r_copied: "Letter copied.", r_failed: "No letter: {msg}", r_need_name: "Give your name.",
    r_need_contact: "Give your e-mail address or your postal address, for the answer.",
  },
  de: {
    tagline: "Fotos sicher veröffentlichen, ohne dass Gesichtserkennung sie findet.",
    language: "Sprache", options: "Einstellungen", method: "Wie Gesichter verdeckt werden",
    method_fill: "Füllen (unumkehrbar, empfohlen)", method_pixelate: "Verpixeln (schwächer)", method_blur: "Weichzeichnen (schwächer)",
    method_natural: "Natürlich (aus der Umgebung neu aufgebaut)",
    method_synthetic: "Gesicht von niemandem (gezeichneter Ersatz)",
    format: "Dateiformat", format_same: "Wie das Foto",
    weak_warning: "Diese Methode ist schwächer als Füllen: verpixelte oder weichgezeichnete Gesichter lassen sich teilweise wiederherstellen oder von Gesichtssuchmaschinen zuordnen. Zum Veröffentlichen: Füllen.",
    add: "Fotos", drop: "Fotos hierher ziehen, oder", choose: "Fotos auswählen",
    privacy: "Die Fotos bleiben in diesem Tab. Der Server schützt jedes und behält nichts; diese Seite vergisst sie nach einer Weile ohne Nutzung.",
    help: "Jedes gefundene Gesicht ist umrandet und verdeckt. Klicken Sie auf ein Gesicht (oder fokussieren Sie es und drücken Sie Enter), um es sichtbar zu lassen oder wieder zu verdecken. Ziehen Sie auf dem Foto einen Rahmen, um ein übersehenes Gesicht zu verdecken, oder nutzen Sie „Rahmen hinzufügen“ und verschieben Sie ihn mit den Pfeiltasten (Umschalt + Pfeile: Größe, Entf: entfernen).",
    zip: "Alle herunterladen (ZIP)", clear: "Alle Fotos vergessen", add_box: "Rahmen hinzufügen", download: "Herunterladen", remove: "Entfernen",
    noscript: "Diese Seite braucht JavaScript. Die API geht auch ohne: POST /v1/protect.",
    results: "Ergebnisse", working: "Suche Gesichter…", updating: "Schütze…",
    done: "{n} Gesicht(er) gefunden, {hidden} verdeckt.", failed: "Nicht geschützt: {msg}", busy: "Der Server ist ausgelastet; neuer Versuch…",
    face_protected: "Gesicht {i}: verdeckt. Enter lässt es sichtbar.",
    face_visible: "Gesicht {i}: SICHTBAR. Enter verdeckt es.",
    face_manual: "Ihr Rahmen {i}: verdeckt. Pfeiltasten verschieben, Umschalt + Pfeile ändern die Größe, Entf entfernt.",
    visible_warning: "{n} Gesicht(er) bleiben absichtlich sichtbar: jeder kann nach ihnen suchen. Die Prüfung durch den zweiten Detektor ist für dieses Foto aus.",
    animated: "Animiertes Bild: jedes gefundene Gesicht wird verdeckt; einzelne Gesichter können nicht sichtbar bleiben.",
    expired: "Die Fotos wurden nach {min} Minuten ohne Nutzung vergessen.",
    photo_alt: "Geschütztes Foto: {name}", overlay: "Gesichter in {name}",
    share: "Teilen", share_title: "Ein Link, der von selbst endet", share_expiry: "Der Link endet nach",
    share_1h: "1 Stunde", share_1d: "1 Tag", share_7d: "7 Tagen", share_30d: "30 Tagen",
    share_limit: "oder früher, nach so vielen Aufrufen:", share_views: "Aufrufe",
    share_hint: "Der Server bewahrt das geschützte Foto verschlüsselt auf, mit einem Schlüssel, der nur im Link steht; das Original wird nicht aufbewahrt. Wer den Link hat, kann das Foto sehen und speichern, bis der Link endet.",
    share_create: "Link erstellen", share_link: "Link", share_copy: "Link kopieren", share_end: "Jetzt beenden",
    share_working: "Schütze und verschlüssele…", share_made: "Der Link gilt bis {until}{views}.", share_views_left: " oder für {n} Aufruf(e)",
    share_copied: "Link kopiert.", share_copy_failed: "Markieren Sie den Link und kopieren Sie ihn selbst.", share_ended: "Der Link ist beendet; das Foto ist vom Server entfernt.",
    share_failed: "Kein Link: {msg}",
    rights: "Ihre Rechte",
    rights_intro: "Wenn PimEyes, Clearview AI oder ein anderes Unternehmen Fotos Ihres Gesichts haben könnte, gibt Ihnen die DSGVO das Recht auf Auskunft (Art. 15), Löschung (Art. 17), Widerspruch (Art. 21) und Beschwerde bei einer Datenschutzbehörde (Art. 77). Füllen Sie das Formular aus und erhalten Sie den fertigen Brief. Er wird von diesem Server geschrieben und nirgends aufbewahrt; die Seite schickt ihn nirgendwo anders hin.",
    r_kind: "Was möchten Sie?", r_access: "Auskunft, was gespeichert ist (Art. 15)", r_erasure: "Löschung (Art. 17)",
    r_objection: "Widerspruch gegen die Verarbeitung (Art. 21)", r_complaint: "Beschwerde bei einer Datenschutzbehörde (Art. 77)",
    r_to: "Unternehmen", r_other_company: "Ein anderes Unternehmen…", r_company_name: "Name des Unternehmens",
    r_company_address: "Seine Postanschrift (zeilenweise)", r_company_email: "Seine E-Mail-Adresse für Datenschutzanfragen",
    r_authority: "Behörde (wo Sie wohnen oder arbeiten)", r_other_authority: "Eine andere Behörde…", r_lead_authority: "Die federführende Behörde des Unternehmens",
    r_authority_name: "Name der Behörde", r_authority_address: "Ihre Postanschrift (zeilenweise)", r_authority_email: "Ihre E-Mail-Adresse",
    r_request_date: "Wann haben Sie Ihre Anfrage an das Unternehmen geschickt?", r_reply: "Was hat das Unternehmen geantwortet?",
    r_reply_none: "Nichts", r_reply_refused: "Es hat abgelehnt", r_reply_incomplete: "Unvollständig",
    r_reason: "Ihre eigenen Gründe (freiwillig, ein Absatz)",
    r_photo: "Ein Foto meines Gesichts beilegen (alles andere geschwärzt), damit sie ihre Daten finden",
    r_name: "Ihr Name", r_email: "Ihre E-Mail-Adresse (für die Antwort)",
    r_address: "Ihre Postanschrift (zeilenweise; mit E-Mail-Adresse freiwillig)", r_lang: "Den Brief schreiben auf",
    r_write: "Brief schreiben", r_text: "Ihr Brief", r_copy: "Brief kopieren", r_download: "Herunterladen (.txt)",
    r_notes: "Hinweise für Sie (nicht Teil des Briefs)", r_writing: "Schreibe…", r_done: "Ihr Brief steht unten bereit.",
    r_copied: "Brief kopiert.", r_failed: "Kein Brief: {msg}", r_need_name: "Geben Sie Ihren Namen an.",
    r_need_contact: "Geben Sie Ihre E-Mail-Adresse oder Postanschrift an, für die Antwort.",
  },
};

const SVG = "http://www.w3.org/2000/svg";
const EXT = { jpeg: ".jpg", png: ".png", webp: ".webp", tiff: ".tif", bmp: ".bmp", gif: ".gif", heif: ".heic", avif: ".avif" };
const state = { lang: "en", items: [], ready: Promise.resolve(), session: 900, weak: new Set(["pixelate", "blur"]), timer: 0, sharing: null, rights: null };
const $ = (id) => document.getElementById(id);

function t(key, vars = {}) {
  const text = (TEXT[state.lang] || TEXT.en)[key] || TEXT.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

function applyLanguage(lang) {
  state.lang = TEXT[lang] ? lang : "en";
  document.documentElement.lang = state.lang;
  $("lang").value = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("results").setAttribute("aria-label", t("results"));
  state.items.forEach(render);
  fillRights();
}

function touch() {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => { clearAll(); $("status").textContent = t("expired", { min: Math.round(state.session / 60) }); },
    state.session * 1000);
}

async function api(path, item, params, fields = {}) {
  for (let attempt = 0; ; attempt++) {
    const body = new FormData();
    body.append("file", item.file, "upload");  // the file name stays in this tab
    Object.entries(fields).forEach(([k, v]) => body.append(k, v));
    const response = await fetch(`${path}?${params.toString()}`, { method: "POST", body, credentials: "same-origin" });
    if (response.status === 503 && attempt < 5) {
      item.stateText = t("busy"); render(item);
      const wait = Number(response.headers.get("Retry-After") || "2");
      await new Promise((r) => setTimeout(r, Math.min(wait, 10) * 1000));
      continue;
    }
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }
}

async function addFiles(files) {
  touch();
  await state.ready;  // the methods and limits of this server
  for (const file of files) {
    const item = { id: crypto.randomUUID(), file, name: file.name || "photo", faces: [], manual: [], width: 0, height: 0,
      frames: 1, url: "", blob: null, format: "", seq: 0, busy: true, stateText: t("working"), warnings: [], error: "" };
    item.el = build(item);
    state.items.push(item);
    $("results").append(item.el);
    render(item);
    try {
      const found = await (await api("/v1/detect", item, new URLSearchParams())).json();
      item.width = found.width; item.height = found.height; item.frames = found.frames;
      item.faces = found.faces.filter((f) => f.frame === 0).map((f) => ({ box: f.box, hidden: true }));
      await protect(item);
    } catch (err) {
      item.busy = false; item.error = String(err.message || err); render(item);
    }
  }
  showAll();
}

function protectParams(item) {
  const params = new URLSearchParams({ method: $("method").value });
  if ($("format").value) params.set("format", $("format").value);
  const boxes = item.manual.map((m) => m.box);
  if (item.frames > 1) {
    params.set("detect", "true");  // faces move between frames: the detectors must run on each
  } else {
    item.faces.forEach((f) => { if (f.hidden) boxes.push(f.box); });
    const visible = item.faces.some((f) => !f.hidden);
    params.set("detect", "false");
    // The check by a second detector would hide the faces left visible on purpose.
    params.set("verify", visible ? "false" : "true");
  }
  boxes.forEach((b) => params.append("boxes", b.map((v) => Math.round(v * 10) / 10).join(",")));
  return params;
}

async function protect(item) {
  const seq = ++item.seq;
  item.busy = true; item.error = ""; item.stateText = t("updating"); render(item);
  try {
    const response = await api("/v1/protect", item, protectParams(item));
    const blob = await response.blob();
    if (seq !== item.seq) return;  // a newer change is on its way
    if (item.url) URL.revokeObjectURL(item.url);
    item.blob = blob; item.url = URL.createObjectURL(blob);
    item.format = (response.headers.get("Content-Disposition") || "").match(/\.(\w+)"/)?.[1] || "jpg";
    item.hiddenCount = Number(response.headers.get("X-Unerkannt-Faces") || "0");
    item.busy = false; item.stateText = "";
  } catch (err) {
    if (seq !== item.seq) return;
    item.busy = false; item.error = String(err.message || err); item.blob = null;
  }
  render(item);
  showAll();
}

let pending = new Map();
function changed(item) {
  touch();
  item.busy = true; item.stateText = t("updating");  // no download of the previous result meanwhile
  item.seq++;  // an answer already on its way was made without this change: it must not end the wait
  render(item);
  clearTimeout(pending.get(item.id));
  pending.set(item.id, setTimeout(() => protect(item), 250));
}

function build(item) {
  const el = $("item").content.firstElementChild.cloneNode(true);
  el.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  const svg = el.querySelector(".overlay");
  let draft = null, start = null;
  const toImage = (ev) => {
    const r = svg.getBoundingClientRect();
    return [Math.max(0, Math.min(item.width, (ev.clientX - r.left) / r.width * item.width)),
            Math.max(0, Math.min(item.height, (ev.clientY - r.top) / r.height * item.height))];
  };
  svg.addEventListener("pointerdown", (ev) => {
    if (ev.target.classList.contains("face") || !item.width) return;
    start = toImage(ev);
    draft = document.createElementNS(SVG, "rect");
    draft.setAttribute("class", "draft");
    svg.append(draft);
    svg.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  svg.addEventListener("pointermove", (ev) => {
    if (!draft) return;
    const [x, y] = toImage(ev);
    setRect(draft, [Math.min(x, start[0]), Math.min(y, start[1]), Math.max(x, start[0]), Math.max(y, start[1])]);
  });
  svg.addEventListener("pointerup", (ev) => {
    if (!draft) return;
    const [x, y] = toImage(ev);
    draft.remove(); draft = null;
    const box = [Math.min(x, start[0]), Math.min(y, start[1]), Math.max(x, start[0]), Math.max(y, start[1])];
    if (box[2] - box[0] >= 4 && box[3] - box[1] >= 4) { item.manual.push({ box }); changed(item); }
  });
  el.querySelector(".add-box").addEventListener("click", () => {
    const s = Math.max(8, Math.min(item.width, item.height) / 5);
    item.manual.push({ box: [item.width / 2 - s / 2, item.height / 2 - s / 2, item.width / 2 + s / 2, item.height / 2 + s / 2] });
    changed(item);
    const rects = el.querySelectorAll(".face.manual");
    if (rects.length) rects[rects.length - 1].focus();
  });
  el.querySelector(".remove").addEventListener("click", () => forget(item));
  const panel = el.querySelector(".share"), open = el.querySelector(".share-open");
  open.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    open.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) el.querySelector(".share-expiry").focus();
  });
  el.querySelector(".share-limit").addEventListener("change", (ev) => { el.querySelector(".share-views").disabled = !ev.target.checked; });
  el.querySelector(".share-create").addEventListener("click", () => share(item));
  el.querySelector(".share-copy").addEventListener("click", () => copyText(el.querySelector(".share-link"), el.querySelector(".share-state"), "share_copied", "share_copy_failed"));
  el.querySelector(".share-end").addEventListener("click", () => endShare(item));
  el.querySelector(".download").addEventListener("click", touch);
  return el;
}

function setRect(rect, [x1, y1, x2, y2]) {
  rect.setAttribute("x", x1); rect.setAttribute("y", y1);
  rect.setAttribute("width", Math.max(1, x2 - x1)); rect.setAttribute("height", Math.max(1, y2 - y1));
}

function faceRect(item, label, cls, box, onKey) {
  const rect = document.createElementNS(SVG, "rect");
  rect.setAttribute("class", `face ${cls}`);
  rect.setAttribute("tabindex", "0");
  rect.setAttribute("role", "button");
  rect.setAttribute("aria-label", label);
  setRect(rect, box);
  rect.addEventListener("keydown", onKey);
  return rect;
}

function render(item) {
  const el = item.el;
  el.querySelector(".name").textContent = item.name;
  const img = el.querySelector(".photo");
  if (item.url && img.getAttribute("src") !== item.url) img.src = item.url;
  img.alt = t("photo_alt", { name: item.name });
  const svg = el.querySelector(".overlay");
  svg.setAttribute("aria-label", t("overlay", { name: item.name }));
  if (item.width) svg.setAttribute("viewBox", `0 0 ${item.width} ${item.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const focused = document.activeElement && svg.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  svg.querySelectorAll(".face").forEach((n) => n.remove());
  item.faces.forEach((face, i) => {
    const label = t(face.hidden ? "face_protected" : "face_visible", { i: i + 1 });
    const toggle = () => { if (item.frames > 1) return; face.hidden = !face.hidden; changed(item); };
    const rect = faceRect(item, label, face.hidden ? "protected" : "visible", face.box, (ev) => {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); }
    });
    rect.setAttribute("aria-pressed", String(!face.hidden));
    rect.dataset.key = `f${i}`;
    rect.addEventListener("click", toggle);
    svg.append(rect);
  });
  item.manual.forEach((m, i) => {
    const rect = faceRect(item, t("face_manual", { i: i + 1 }), "manual", m.box, (ev) => {
      const step = ev.altKey ? 1 : 10;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (ev.key === "Delete" || ev.key === "Backspace") {
        ev.preventDefault(); item.manual.splice(i, 1); changed(item); return;
      }
      const d = moves[ev.key];
      if (!d) return;
      ev.preventDefault();
      const b = m.box;
      if (ev.shiftKey) { b[2] = Math.max(b[0] + 4, Math.min(item.width, b[2] + d[0])); b[3] = Math.max(b[1] + 4, Math.min(item.height, b[3] + d[1])); }
      else {
        const dx = Math.max(-b[0], Math.min(item.width - b[2], d[0])), dy = Math.max(-b[1], Math.min(item.height - b[3], d[1]));
        b[0] += dx; b[2] += dx; b[1] += dy; b[3] += dy;
      }
      changed(item);
    });
    rect.dataset.key = `m${i}`;
    svg.append(rect);
  });
  if (focused) svg.querySelector(`[data-key="${focused}"]`)?.focus();
  const visible = item.faces.filter((f) => !f.hidden).length;
  let text = item.error ? t("failed", { msg: item.error }) : item.busy ? item.stateText
    : t("done", { n: item.faces.length, hidden: item.hiddenCount ?? 0 });
  el.querySelector(".state").textContent = text;
  const warnings = el.querySelector(".warnings");
  warnings.replaceChildren();
  const warn = (msg) => { const li = document.createElement("li"); li.textContent = msg; warnings.append(li); };
  if (visible) warn(t("visible_warning", { n: visible }));
  if (item.frames > 1) warn(t("animated"));
  if (state.weak.has($("method").value)) warn(t("weak_warning"));
  const link = el.querySelector(".download");
  const ready = item.blob && !item.busy && !item.error;
  link.setAttribute("aria-disabled", String(!ready));
  if (ready) { link.href = item.url; link.download = downloadName(item); } else { link.removeAttribute("href"); }
  const open = el.querySelector(".share-open");
  open.hidden = !state.sharing;
  open.disabled = !ready;
  const made = item.share;
  el.querySelector(".share-result").hidden = !made || made.ended;
  if (made) {
    el.querySelector(".share-link").value = made.link;
    el.querySelector(".share-state").textContent = made.ended ? t("share_ended") : made.note ? t(made.note)
      : t("share_made", { until: when(made.expiresAt), views: made.maxViews ? t("share_views_left", { n: made.maxViews }) : "" });
  }
}

// A moment in the page's language, in the browser's own way of writing it when that matches.
function when(iso) {
  const locale = (navigator.language || "").toLowerCase().startsWith(state.lang) ? navigator.language : state.lang === "en" ? "en-GB" : state.lang;
  return new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

async function share(item) {
  touch();
  const el = item.el, status = el.querySelector(".share-state");
  const fields = { expires_in: el.querySelector(".share-expiry").value };
  if (el.querySelector(".share-limit").checked) fields.max_views = el.querySelector(".share-views").value;
  const create = el.querySelector(".share-create");
  create.disabled = true;
  status.textContent = t("share_working");
  try {
    const made = await (await api("/v1/shares", item, protectParams(item), fields)).json();
    item.share = { id: made.id, link: new URL(made.url, location.href).href, token: made.delete_token,
      expiresAt: made.expires_at, maxViews: made.max_views, ended: false, note: "" };
    render(item);
    el.querySelector(".share-link").focus();
    el.querySelector(".share-link").select();
  } catch (err) {
    status.textContent = t("share_failed", { msg: String(err.message || err) });
  } finally {
    create.disabled = false;
  }
}

async function endShare(item) {
  touch();
  const made = item.share;
  if (!made) return;
  const response = await fetch(`/v1/shares/${encodeURIComponent(made.id)}`,
    { method: "DELETE", headers: { "X-Unerkannt-Delete-Token": made.token }, credentials: "same-origin" });
  if (response.ok || response.status === 410) { made.ended = true; made.token = ""; }
  render(item);
}

async function copyText(field, status, done, failed) {
  try {
    await navigator.clipboard.writeText(field.value);
    status.textContent = t(done);
  } catch (e) {
    field.focus(); field.select();
    status.textContent = t(document.execCommand && document.execCommand("copy") ? done : failed);
  }
}

function downloadName(item) {
  const base = item.name.replace(/\.[^.]*$/, "") || "photo";
  return `${base}-unerkannt${EXT[item.format] || "." + item.format}`;
}

function forget(item) {
  if (item.url) URL.revokeObjectURL(item.url);
  item.el.remove();
  state.items = state.items.filter((i) => i !== item);
  showAll();
}

function clearAll() { [...state.items].forEach(forget); }

function showAll() {
  $("all").hidden = state.items.length === 0;
  $("zip").hidden = state.items.filter((i) => i.blob && !i.error).length < 2;
}

// A ZIP archive without compression (the images are compressed already), built in this tab.
const CRC = (() => { const table = new Uint32Array(256); for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; table[n] = c >>> 0; } return table; })();
function crc32(bytes) { let c = 0xffffffff; for (let i = 0; i < bytes.length; i++) c = CRC[(c ^ bytes[i]) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }

async function zip(entries) {
  const parts = [], central = [];
  let offset = 0;
  const enc = new TextEncoder();
  for (const { name, blob } of entries) {
    const data = new Uint8Array(await blob.arrayBuffer());
    const fname = enc.encode(name), crc = crc32(data);
    const head = new DataView(new ArrayBuffer(30));
    [[0, 0x04034b50, 4], [4, 20, 2], [6, 0x0800, 2], [8, 0, 2], [10, 0, 2], [12, 0x21, 2], [14, crc, 4], [18, data.length, 4],
     [22, data.length, 4], [26, fname.length, 2], [28, 0, 2]].forEach(([o, v, n]) => n === 4 ? head.setUint32(o, v, true) : head.setUint16(o, v, true));
    const dir = new DataView(new ArrayBuffer(46));
    [[0, 0x02014b50, 4], [4, 20, 2], [6, 20, 2], [8, 0x0800, 2], [10, 0, 2], [12, 0, 2], [14, 0x21, 2], [16, crc, 4], [20, data.length, 4],
     [24, data.length, 4], [28, fname.length, 2], [30, 0, 2], [32, 0, 2], [34, 0, 2], [36, 0, 2], [38, 0, 4], [42, offset, 4]]
      .forEach(([o, v, n]) => n === 4 ? dir.setUint32(o, v, true) : dir.setUint16(o, v, true));
    parts.push(head, fname, data);
    central.push(dir, fname);
    offset += 30 + fname.length + data.length;
  }
  const size = central.reduce((s, p) => s + p.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  [[0, 0x06054b50, 4], [8, entries.length, 2], [10, entries.length, 2], [12, size, 4], [16, offset, 4]]
    .forEach(([o, v, n]) => n === 4 ? end.setUint32(o, v, true) : end.setUint16(o, v, true));
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}

async function downloadZip() {
  touch();
  const used = new Set();
  const entries = state.items.filter((i) => i.blob && !i.error).map((item) => {
    let name = downloadName(item), n = 1;
    while (used.has(name)) name = downloadName(item).replace(/(\.\w+)$/, `-${++n}$1`);
    used.add(name);
    return { name, blob: item.blob };
  });
  const url = URL.createObjectURL(await zip(entries));
  const a = document.createElement("a");
  a.href = url; a.download = "unerkannt.zip";
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// "Your rights": the letter is written by this server (unerkannt.rights) and shown here only.
function option(value, text) { const o = document.createElement("option"); o.value = value; o.textContent = text; return o; }

function fillRights() {
  const book = state.rights;
  if (!book) return;
  const to = $("r-to"), chosen = to.value;
  to.replaceChildren(...book.companies.map((c) => option(c.key, c.name)), option("", t("r_other_company")));
  to.value = chosen || book.companies[0]?.key || "";
  showRightsFields();
}

function showRightsFields() {
  const book = state.rights;
  const kind = $("r-kind").value, company = book?.companies.find((c) => c.key === $("r-to").value);
  $("r-other").hidden = Boolean(company);
  $("r-complaint-fields").hidden = kind !== "complaint";
  $("r-objection-fields").hidden = kind !== "objection";
  $("r-photo-row").hidden = kind === "complaint";
  const authority = $("r-authority"), chosen = authority.value;
  const options = (book?.authorities || []).map((a) => option(a.key, a.country ? `${a.name} (${a.country[state.lang] || a.country.en})` : a.name));
  if (company?.lead_authority) options.unshift(option("", t("r_lead_authority")));
  authority.replaceChildren(...options, option("-", t("r_other_authority")));
  if ([...authority.options].some((o) => o.value === chosen)) authority.value = chosen;
  $("r-other-authority").hidden = authority.value !== "-";
}

const lines = (id) => $(id).value.split("\n").map((l) => l.trim()).filter(Boolean);

async function writeLetter() {
  touch();
  const status = $("r-status"), kind = $("r-kind").value;
  if (!$("r-name").value.trim()) { status.textContent = t("r_need_name"); $("r-name").focus(); return; }
  if (!$("r-email").value.trim() && !lines("r-address").length) { status.textContent = t("r_need_contact"); $("r-email").focus(); return; }
  const body = { kind, name: $("r-name").value.trim(), lang: $("r-lang").value, address: lines("r-address") };
  if ($("r-email").value.trim()) body.email = $("r-email").value.trim();
  if ($("r-to").value) body.to = $("r-to").value;
  else {
    body.company_name = $("r-company-name").value.trim();
    body.company_address = lines("r-company-address");
    if ($("r-company-email").value.trim()) body.company_email = $("r-company-email").value.trim();
  }
  if (kind === "complaint") {
    const authority = $("r-authority").value;
    if (authority === "-") {
      body.authority_name = $("r-authority-name").value.trim();
      body.authority_address = lines("r-authority-address");
      if ($("r-authority-email").value.trim()) body.authority_email = $("r-authority-email").value.trim();
    } else if (authority) body.authority = authority;
    if ($("r-request-date").value) body.request_date = $("r-request-date").value;
    body.reply = $("r-reply").value;
  } else body.photo = $("r-photo").checked;
  if (kind === "objection" && $("r-reason").value.trim()) body.reason = $("r-reason").value.replace(/\s+/g, " ").trim();
  status.textContent = t("r_writing");
  try {
    const response = await fetch("/v1/rights/letter", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), credentials: "same-origin" });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error?.message || `HTTP ${response.status}`);
    $("r-text").value = answer.text;
    $("r-notes").replaceChildren(...answer.notes.map((n) => { const li = document.createElement("li"); li.textContent = n; return li; }));
    const link = $("r-download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([answer.text], { type: "text/plain;charset=utf-8" }));
    link.download = answer.filename;
    $("r-result").hidden = false;
    status.textContent = t("r_done");
  } catch (err) {
    status.textContent = t("r_failed", { msg: String(err.message || err) });
  }
}

// The server's methods, in its order, labelled in the page's language (the name if no label).
function showMethods(names) {
  const select = $("method");
  const chosen = select.value;
  select.replaceChildren(...names.map((name) => {
    const option = document.createElement("option");
    const key = `method_${name}`;
    option.value = name;
    if (TEXT.en[key]) option.dataset.i18n = key;
    option.textContent = TEXT.en[key] ? t(key) : name;
    return option;
  }));
  select.value = names.includes(chosen) ? chosen : names[0];
}

async function loadSettings() {
  try {
    const config = await (await fetch("/v1/config", { credentials: "same-origin" })).json();
    state.session = config.session_seconds;
    state.weak = new Set(config.methods.filter((m) => m.weak).map((m) => m.name));
    state.sharing = config.shares;
    showMethods(config.methods.map((m) => m.name));
  } catch (e) { /* defaults stay */ }
  try {
    state.rights = await (await fetch("/v1/rights", { credentials: "same-origin" })).json();
    fillRights();
  } catch (e) { /* the form works with another company */ }
}

async function init() {
  applyLanguage((navigator.language || "en").slice(0, 2).toLowerCase());
  $("r-lang").value = state.lang;
  // The handlers before anything is awaited: a file chosen while the settings load is not
  // lost (addFiles waits for them), as it was when they came after the two requests.
  state.ready = loadSettings();
  $("r-kind").addEventListener("change", showRightsFields);
  $("r-to").addEventListener("change", showRightsFields);
  $("r-authority").addEventListener("change", showRightsFields);
  $("r-write").addEventListener("click", writeLetter);
  $("r-copy").addEventListener("click", () => copyText($("r-text"), $("r-status"), "r_copied", "share_copy_failed"));
  $("lang").addEventListener("change", (ev) => applyLanguage(ev.target.value));
  $("method").addEventListener("change", () => {
    $("method-warning").hidden = !state.weak.has($("method").value);
    state.items.forEach((item) => { if (item.width) changed(item); });
  });
  $("format").addEventListener("change", () => state.items.forEach((item) => { if (item.width) changed(item); }));
  $("files").addEventListener("change", (ev) => { addFiles([...ev.target.files]); ev.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => { ev.preventDefault(); drop.classList.remove("over"); addFiles([...ev.dataTransfer.files]); });
  $("zip").addEventListener("click", downloadZip);
  $("clear").addEventListener("click", clearAll);
  document.addEventListener("keydown", touch);
  document.addEventListener("pointerdown", touch);
  await state.ready;
  showAll();
}

document.addEventListener("DOMContentLoaded", init);
