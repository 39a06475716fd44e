// camops viewer: login, the facilities and cameras this person may see, live view (hls.js).
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
  },
  en: {
    title: "Camera system of centralized quarantine facilities",
    login: "Log in", email: "Official e-mail", password: "Password",
    login_failed: "Wrong e-mail or password.", logout: "Log out", back: "Back to the list",
    note: "Facility staff watch cameras on site; they have no remote account.",
    hello: "Hello", none: "This account may not view any camera.", live: "Watch live",
    denied: "Not allowed to view this camera.",
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
}

function play(camera) {
  const video = $("player");
  const source = `/live/${encodeURIComponent(camera.id)}/index.m3u8`;
  $("player-title").textContent = camera.name;
  if (hls) { hls.destroy(); hls = null; }
  if (window.Hls && Hls.isSupported()) {
    hls = new Hls({ liveSyncDurationCount: 2 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.response && data.response.code === 403) $("player-title").textContent = t("denied");
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  } else {
    video.src = source;
  }
  video.play().catch(() => {});
  show("player-view");
}

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
});
translate();
loadCameras();
