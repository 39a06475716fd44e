// camops viewer: login, the facilities and cameras this person may see, live view and playback
// of a time range (hls.js), and recording export requests (R5: with the approval's reference).
// Every playlist request passes nginx's auth_request, which asks the platform and logs it.
"use strict";

const TEXT = {
  vi: {
    title: "Hệ thống camera giám sát khu cách ly tập trung",
    login: "Đăng nhập", email: "Email công vụ", password: "Mật khẩu",
    login_failed: "Sai email hoặc mật khẩu.", logout: "Đăng xuất", back: "Quay lại danh sách",
    note: "Cán bộ tại khu cách ly xem camera tại chỗ, không có tài khoản truy cập từ xa.",
    hello: "Xin chào", none: "Tài khoản này không được xem camera nào.", live: "Xem trực tiếp",
    denied: "Không được phép xem camera này.",
    playback: "Xem lại bản ghi", camera: "Camera", from: "Từ", to: "Đến", play: "Xem lại",
    range_note: "Giờ theo máy của bạn; tối đa 24 giờ.",
    bad_range: "Khoảng thời gian không hợp lệ (thời điểm kết thúc phải sau thời điểm bắt đầu, tối đa 24 giờ).",
    no_recording: "Không có bản ghi trong khoảng thời gian này.",
    export: "Yêu cầu trích xuất bản ghi",
    export_note: "Trích xuất bản ghi phải có văn bản đồng ý của UBND tỉnh (R5). Dùng camera và khoảng thời gian đã chọn ở trên.",
    approval_ref: "Số văn bản đồng ý của UBND tỉnh", approval_ref_short: "Văn bản",
    approval_missing: "Cần nhập số văn bản đồng ý của UBND tỉnh (ví dụ 123/UBND-VX).",
    request_export: "Gửi yêu cầu", export_id: "Số", range: "Khoảng thời gian", status: "Trạng thái",
    requested: "Đang xử lý", ready: "Sẵn sàng", failed: "Không thành công", download: "Tải về",
    export_failed: "Không gửi được yêu cầu.",
  },
  en: {
    title: "Camera system of centralized quarantine facilities",
    login: "Log in", email: "Official e-mail", password: "Password",
    login_failed: "Wrong e-mail or password.", logout: "Log out", back: "Back to the list",
    note: "Facility staff watch cameras on site; they have no remote account.",
    hello: "Hello", none: "This account may not view any camera.", live: "Watch live",
    denied: "Not allowed to view this camera.",
    playback: "Play back a recording", camera: "Camera", from: "From", to: "To", play: "Play back",
    range_note: "Times of your computer; 24 hours at most.",
    bad_range: "Invalid range (the end must be after the start, 24 hours at most).",
    no_recording: "No recording in this range.",
    export: "Request a recording export",
    export_note: "Exporting a recording needs the written approval of the Provincial People's Committee (R5). Uses the camera and range chosen above.",
    approval_ref: "Reference of the Provincial People's Committee's approval", approval_ref_short: "Approval",
    approval_missing: "Enter the reference of the Provincial People's Committee's approval (e.g. 123/UBND-VX).",
    request_export: "Send the request", export_id: "No.", range: "Range", status: "Status",
    requested: "In progress", ready: "Ready", failed: "Failed", download: "Download",
    export_failed: "The request could not be sent.",
  },
};
let lang = localStorage.getItem("camops-lang") || "vi";
let hls = null;
const $ = (id) => document.getElementById(id);

function t(key) { return TEXT[lang][key] || key; }

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = lang === "vi" ? "English" : "Tiếng Việt";
}

function show(view) {
  for (const id of ["login-view", "cameras-view", "player-view"]) $(id).hidden = id !== view;
  $("logout").hidden = view === "login-view";
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return response;
}

async function loadCameras() {
  const response = await api("GET", "/api/v1/me");
  if (response.status === 401) { show("login-view"); return; }
  const me = await response.json();
  $("who").textContent = `${t("hello")}, ${me.full_name} (${me.email})`;
  const list = $("facilities");
  list.replaceChildren();
  if (me.facilities.length === 0) {
    const p = document.createElement("p"); p.textContent = t("none"); list.append(p);
  }
  const select = $("pb-camera");
  select.replaceChildren();
  for (const facility of me.facilities) {
    for (const camera of facility.cameras) {
      const option = document.createElement("option");
      option.value = camera.id; option.textContent = `${facility.name} — ${camera.name}`;
      option.dataset.name = camera.name;
      select.append(option);
    }
  }
  $("playback-panel").hidden = $("export-panel").hidden = select.options.length === 0;
  if (!$("pb-from").value) defaultRange();
  for (const facility of me.facilities) {
    const box = document.createElement("div"); box.className = "facility";
    const title = document.createElement("h3"); title.textContent = facility.name; box.append(title);
    for (const camera of facility.cameras) {
      const button = document.createElement("button");
      button.className = "camera"; button.type = "button";
      button.dataset.camera = camera.id;
      button.textContent = `${camera.name} — ${t("live")}`;
      button.addEventListener("click", () => play(camera));
      box.append(button);
    }
    list.append(box);
  }
  show("cameras-view");
  if (select.options.length) loadExports();
}

function play(camera) {
  load(`/live/${encodeURIComponent(camera.id)}/index.m3u8`, camera.name, { liveSyncDurationCount: 2 });
}

function load(source, title, options) {
  const video = $("player");
  $("player-title").textContent = title;
  if (hls) { hls.destroy(); hls = null; }
  if (window.Hls && Hls.isSupported()) {
    hls = new Hls(options);
    hls.on(Hls.Events.ERROR, (_event, data) => {
      const code = data.response && data.response.code;
      if (code === 403) $("player-title").textContent = t("denied");
      if (code === 404) $("player-title").textContent = t("no_recording");
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  } else {
    video.src = source;
  }
  video.play().catch(() => {});
  show("player-view");
}

// Playback and exports ------------------------------------------------------------------------

function localValue(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function defaultRange() {
  const end = new Date(); end.setSeconds(0, 0);
  $("pb-to").value = localValue(end);
  $("pb-from").value = localValue(new Date(end.getTime() - 3600 * 1000));
}

function chosenRange() {
  const start = new Date($("pb-from").value), end = new Date($("pb-to").value);
  if (isNaN(start) || isNaN(end) || end <= start || end - start > 24 * 3600 * 1000) return null;
  return { camera: $("pb-camera").value, from: start.toISOString(), to: end.toISOString() };
}

function say(id, text) { $(id).textContent = text; $(id).hidden = !text; }

async function loadExports() {
  const response = await api("GET", "/api/v1/exports");
  if (!response.ok) return;
  const rows = await response.json();
  const body = $("exports-list");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    const range = `${new Date(row.from).toLocaleString(lang)} – ${new Date(row.to).toLocaleString(lang)}`;
    for (const text of [row.id, row.camera, range, row.approval_ref, t(row.status)]) {
      const td = document.createElement("td"); td.textContent = String(text); tr.append(td);
    }
    tr.lastChild.className = `status-${row.status}`;
    if (row.status === "failed") tr.lastChild.title = row.error;
    const cell = document.createElement("td");
    if (row.status === "ready") {
      const link = document.createElement("a");
      link.href = `/api/v1/exports/${row.id}/file`; link.textContent = t("download");
      link.title = `SHA-256 ${row.sha256}`;
      cell.append(link);
    }
    tr.append(cell);
    body.append(tr);
  }
  if (rows.some((row) => row.status === "requested")) setTimeout(loadExports, 5000);
}

$("playback-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const range = chosenRange();
  say("pb-error", range ? "" : t("bad_range"));
  if (!range) return;
  const option = $("pb-camera").selectedOptions[0];
  const source = `/playback/${encodeURIComponent(range.camera)}/index.m3u8`
    + `?from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}`;
  load(source, `${option.dataset.name} — ${$("pb-from").value.replace("T", " ")} → ${$("pb-to").value.replace("T", " ")}`, {});
});

$("export-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const range = chosenRange();
  const approval = $("ex-approval").value.trim();
  if (!range) { say("ex-error", t("bad_range")); return; }
  if (approval.length < 5) { say("ex-error", t("approval_missing")); return; }
  const response = await api("POST", "/api/v1/exports", { ...range, approval_ref: approval });
  if (response.status === 201) {
    say("ex-error", ""); $("ex-approval").value = ""; await loadExports(); return;
  }
  const messages = { 403: t("denied"), 404: t("no_recording") };
  let text = messages[response.status] || t("export_failed");
  if (response.status === 422) {
    const detail = (await response.json()).detail;
    text = String(detail).startsWith("approval_ref") ? t("approval_missing") : t("bad_range");
  }
  say("ex-error", text);
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await api("POST", "/api/v1/session", { email: $("email").value, password: $("password").value });
  $("password").value = "";
  $("login-error").hidden = response.status === 204;
  if (response.status === 204) await loadCameras();
});
$("logout").addEventListener("click", async () => { await api("DELETE", "/api/v1/session"); show("login-view"); });
$("back").addEventListener("click", () => { if (hls) { hls.destroy(); hls = null; } loadCameras(); });
$("lang").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("camops-lang", lang); translate();
  if (!$("cameras-view").hidden && !$("export-panel").hidden) loadExports();
});
translate();
loadCameras();
