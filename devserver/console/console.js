// The local console: drives the real API with a demo account's local token, plays WhatsApp through
// the signed-delivery simulator, and reads the local SES mailbox. Local mode only.
"use strict";

const state = {
  accounts: [], account: null, token: null, contact: null, flow: null,
  verificationId: null, changeToken: null, resendAt: 0, resendTimer: null,
};
const FINAL = new Set(["completed", "failed", "expired", "locked"]);
const $ = (id) => document.getElementById(id);

async function call(method, path, body, { auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  // The server's clock (Date header), to count down to its times whatever this machine's clock says.
  const date = Date.parse(response.headers.get("Date") || "");
  return { status: response.status, ok: response.ok, data, serverNow: Number.isNaN(date) ? Date.now() : date };
}

function say(text, tone = "info") {
  const result = $("result");
  result.textContent = text;
  result.dataset.tone = tone;
}

// A problem document (RFC 9457) in its own plain words (its detail), never its code.
function sayProblem(answer) {
  const data = answer.data || {};
  say(data.detail || data.message || data.title || `Permintaan ditolak (HTTP ${answer.status}).`, "error");
}

// A number as people write it (0812-3456-7890), E.164 when the answer has no display form yet;
// data-e164 keeps the E.164 form for tests and for copying.
function showNumber(element, e164, display, none) {
  element.textContent = e164 ? display || e164 : none;
  element.dataset.e164 = e164 || "";
}

async function loadAccounts() {
  const answer = await call("GET", "/__dev/accounts", undefined, { auth: false });
  state.accounts = answer.data;
  // ?account=<id> opens any account of the local stack (tests and imports create their own).
  const requested = new URLSearchParams(window.location.search).get("account");
  if (requested) await openAccount(requested);
  else {
    renderAccounts();
    await selectAccount(state.accounts[0].id);
  }
}

function renderAccounts() {
  const select = $("account");
  select.replaceChildren(...state.accounts.map((a) => new Option(`${a.name} (${a.id})`, a.id)));
}

// Any account of the stack by its id, an imported citizen for instance.
async function openAccount(id) {
  if (!state.accounts.some((a) => a.id === id)) {
    const answer = await call("GET", `/__dev/accounts?id=${encodeURIComponent(id)}`, undefined, { auth: false });
    if (!answer.ok) return say(`Akun ${id} tidak ada di stack lokal.`, "error");
    state.accounts.unshift(answer.data);
  }
  renderAccounts();
  $("account").value = id;
  await selectAccount(id);
}

async function selectAccount(id) {
  state.account = state.accounts.find((a) => a.id === id);
  const answer = await call("POST", "/__dev/token", { sub: id }, { auth: false });
  state.token = answer.data.token;
  $("profile-token").value = state.token;
  state.contact = null;
  forgetFlow();
  closeEmailSteps();
  $("chat").replaceChildren();
  say("");
  await refreshProfile();
}

// Ends what the console knew of a flow: no more polling, nothing left in the composer to send.
function forgetFlow() {
  state.flow = null;
  $("wa-message").value = "";
  $("wa-business").textContent = "";
  $("qr").replaceChildren();
  $("qr-figure").hidden = true;
  $("wa-hint").textContent = "Mulai salah satu proses di kiri: pesan yang disiapkan muncul di sini.";
  showFlow(null);
}

function showFlow(flow, status) {
  const info = $("flow-info");
  info.hidden = !flow;
  info.dataset.flowId = flow ? flow.flow_id : "";
  info.dataset.status = flow ? status : "";
  const names = { migration: "A (migrasi)", number_change: "B1 (ganti nomor lewat WhatsApp)" };
  info.textContent = flow ? `Proses ${names[flow.kind]} · status ${status} · flow_id ${flow.flow_id}` : "";
}

// Only the ways in that can work for this account, as the JSS profile screen offers them.
function showActions(contact) {
  const hasWhatsApp = Boolean(contact && contact.whatsapp_number);
  const hasEmail = Boolean(contact && contact.email);
  $("actions-migration").hidden = !contact || hasWhatsApp;
  $("actions-change").hidden = !hasWhatsApp;
  $("start-email").hidden = !hasEmail;
  $("no-email-hint").hidden = hasEmail;
}

async function refreshProfile() {
  const answer = await call("GET", "/v1/contact");
  if (!answer.ok) {
    showActions(null); // nothing to offer for an account the service cannot show
    return sayProblem(answer);
  }
  const contact = answer.data;
  state.contact = contact;
  showActions(contact);
  $("profile-name").textContent = state.account.name;
  showNumber($("profile-phone"), contact.phone_number, contact.phone_number_display, "-");
  showNumber($("profile-whatsapp"), contact.whatsapp_number, contact.whatsapp_number_display, "belum ada");
  const badge = $("profile-verified");
  const via = { whatsapp: "terverifikasi WhatsApp", email: "diubah lewat email", jss: "tercatat di JSS, belum diverifikasi" };
  badge.textContent = contact.whatsapp_number ? via[contact.whatsapp_verified_via] || "" : "";
  badge.dataset.verified = String(contact.whatsapp_verified);
  $("profile-email").textContent = contact.email || "tidak ada";
  $("profile-password").textContent = state.account.password || "tidak diketahui (akun impor)";
  return contact;
}

function randomMobile() {
  let digits = "";
  for (let i = 0; i < 7; i += 1) digits += Math.floor(Math.random() * 10);
  return `+62812${digits}`;
}

async function startFlow(path, kind) {
  const answer = await call("POST", path);
  if (!answer.ok) {
    // Refused: the flow shown before is no longer the one to follow, and its message must not be sent.
    forgetFlow();
    sayProblem(answer);
    return refreshProfile();
  }
  closeEmailSteps();
  state.flow = { ...answer.data, kind, statusPath: `${path}/${answer.data.flow_id}` };
  showFlow(state.flow, answer.data.status);
  $("wa-message").value = answer.data.message;
  $("wa-business").textContent = new URL(answer.data.whatsapp_url).pathname.slice(1);
  $("wa-sender").value = kind === "migration" ? (state.account.phone_number || randomMobile()) : randomMobile();
  $("wa-hidden").checked = false;
  $("wa-forwarded").checked = false;
  $("qr").innerHTML = answer.data.qr_svg; // our own API's SVG
  $("qr-figure").hidden = false;
  $("wa-hint").textContent = "Ubah pengirim bila perlu, lalu tekan Kirim.";
  say(`Proses dimulai. Berlaku sampai ${new Date(answer.data.expires_at).toLocaleTimeString("id-ID")}.`);
  watchFlow(state.flow);
}

// Polls the flow as the JSS app does, so the profile card follows what happens on the link page.
function watchFlow(flow) {
  const timer = setInterval(async () => {
    if (state.flow !== flow) return clearInterval(timer);
    const status = await followFlow();
    if (FINAL.has(status) || state.flow !== flow) clearInterval(timer);
  }, 2000);
}

function bubble(text, outgoing) {
  const item = document.createElement("div");
  item.className = outgoing ? "bubble out" : "bubble in";
  const parts = text.split(/(https?:\/\/\S+)/);
  for (const part of parts) {
    if (/^https?:\/\//.test(part)) {
      const link = document.createElement("a");
      link.href = part;
      link.textContent = part;
      link.className = "blue-link";
      link.target = "jss-link";
      link.rel = "noopener";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        window.open(part, "jss-link", "popup,width=390,height=844");
      });
      item.append(link);
    } else {
      item.append(document.createTextNode(part));
    }
  }
  const ticks = document.createElement("span");
  ticks.className = "ticks";
  item.append(ticks);
  $("chat").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

async function sendWhatsApp(event) {
  event.preventDefault();
  const text = $("wa-message").value;
  if (!text.trim()) return say("Mulai proses dulu: belum ada pesan untuk dikirim.", "error");
  const hidden = $("wa-hidden").checked;
  const item = bubble(text, true);
  const answer = await call("POST", "/__dev/whatsapp/send", {
    text,
    sender: hidden ? null : $("wa-sender").value,
    forwarded: $("wa-forwarded").checked,
  }, { auth: false });
  if (!answer.ok) return sayProblem(answer);
  item.querySelector(".ticks").textContent = "✓✓";
  item.dataset.delivered = "true";
  await followFlow();
}

// Why a flow ended, in words: the status answer gives them with every reason (reason_text).
function reasonWords(answered) {
  return answered.reason_text || "";
}

async function followFlow() {
  const flow = state.flow;
  if (!flow) return null;
  const answer = await call("GET", flow.statusPath);
  if (state.flow !== flow) return null; // another flow started, or this one was forgotten, meanwhile
  if (!answer.ok) {
    sayProblem(answer);
    return null;
  }
  const { status } = answer.data;
  const why = reasonWords(answer.data);
  const words = {
    pending: "Menunggu pesan WhatsApp.",
    awaiting_password: "Pesan diterima. Buka tautan biru untuk memasukkan password.",
    completed: "Selesai. Buka tautan biru untuk melihat buktinya.",
    failed: `Tidak berhasil. ${why || "Buka tautan biru untuk penjelasannya."}`,
    expired: why ? `Kedaluwarsa: ${why} Mulai lagi.` : "Kedaluwarsa. Mulai lagi.",
    locked: "Dikunci karena password salah terlalu sering.",
  };
  showFlow(flow, status);
  say(words[status] || status, status === "failed" || status === "locked" ? "error" : "info");
  await refreshProfile();
  return status;
}

async function startEmail() {
  await sendCode(false);
}

// Asks for a code (again): a new code replaces the one sent before.
async function sendCode(again) {
  const answer = await call("POST", "/v1/email-verifications");
  if (!answer.ok) {
    sayProblem(answer);
    // Too soon: the answer says how long to wait; the countdown follows it.
    if (answer.status === 429 && answer.data && answer.data.retry_after && !$("email-steps").hidden) {
      countDownToResend(Date.now() + answer.data.retry_after * 1000);
    }
    return;
  }
  forgetFlow();
  state.verificationId = answer.data.verification_id;
  $("email-steps").hidden = false;
  $("code-form").hidden = false;
  $("number-form").hidden = true;
  $("code").value = "";
  $("code").focus();
  countDownToResend(Date.now() + (Date.parse(answer.data.resend_after) - answer.serverNow));
  const until = new Date(answer.data.expires_at).toLocaleTimeString("id-ID");
  say(`${again ? "Kode baru" : "Kode verifikasi"} dikirim ke ${answer.data.sent_to} (berlaku sampai ${until}). Lihat kotak surat.`);
  await refreshMailbox();
}

// The resend button waits until resend_after, and says how long is left, second by second.
function countDownToResend(at) {
  state.resendAt = Number.isFinite(at) ? at : Date.now();
  clearInterval(state.resendTimer);
  const tick = () => {
    const left = Math.ceil((state.resendAt - Date.now()) / 1000);
    const button = $("resend-code");
    if (left > 0) {
      button.disabled = true;
      const minutes = Math.floor(left / 60);
      const seconds = String(left % 60).padStart(2, "0");
      $("resend-wait").textContent = `Kode baru dapat diminta dalam ${minutes}:${seconds}.`;
      $("resend-wait").dataset.secondsLeft = String(left);
    } else {
      clearInterval(state.resendTimer);
      button.disabled = false;
      $("resend-wait").textContent = "Belum menerima kode? Minta kode baru.";
      $("resend-wait").dataset.secondsLeft = "0";
    }
  };
  tick();
  state.resendTimer = setInterval(tick, 1000);
}

function closeEmailSteps() {
  clearInterval(state.resendTimer);
  state.verificationId = null;
  state.changeToken = null;
  $("email-steps").hidden = true;
  $("resend-wait").textContent = "";
}

async function verifyCode(event) {
  event.preventDefault();
  const answer = await call("POST", `/v1/email-verifications/${state.verificationId}/verify`, { code: $("code").value });
  if (!answer.ok) return sayProblem(answer);
  state.changeToken = answer.data.change_token;
  clearInterval(state.resendTimer);
  $("code-form").hidden = true;
  $("number-form").hidden = false;
  $("new-number").value = "";
  $("new-number").focus();
  say("Kode benar. Masukkan Nomor WhatsApp Baru.");
}

async function changeNumber(event) {
  event.preventDefault();
  const answer = await call("PUT", "/v1/whatsapp-number", {
    change_token: state.changeToken,
    whatsapp_number: $("new-number").value,
  });
  if (!answer.ok) return sayProblem(answer);
  closeEmailSteps();
  say(answer.data.message, "success");
  await refreshProfile();
  await refreshMailbox();
}

async function changePasswordInJss(event) {
  event.preventDefault();
  const password = $("jss-password").value;
  const answer = await call("POST", "/__dev/jss/messages", { account_id: state.account.id, password }, { auth: false });
  if (!answer.ok) return sayProblem(answer);
  state.account.password = password;
  $("jss-password").value = "";
  $("profile-password").textContent = password;
  say("JSS mengirim password baru lewat antrean; berlaku dalam beberapa detik.");
}

async function refreshEvents() {
  const answer = await call("GET", "/__dev/events", undefined, { auth: false });
  const items = (answer.data || []).map((event) => {
    const item = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = `${event["detail-type"]}: ${event.detail.account_id}`;
    const body = document.createElement("pre");
    const d = event.detail;
    const what = [d.journey || d.reason, d.whatsapp_number ? `→ ${d.whatsapp_number}` : ""].filter(Boolean).join(" ");
    const before = d.previous_whatsapp_number_masked ? ` (sebelumnya ${d.previous_whatsapp_number_masked})` : "";
    const when = [d.changed_at || d.removed_at || d.occurred_at, d.event_id].filter(Boolean).join(" · ");
    body.textContent = `${what}${before}\n${when}`;
    item.append(title, body);
    return item;
  });
  replaceIfChanged($("events"), items);
}

// Lists polled every few seconds change only when their content does: a screen reader hears
// each new item once, and a list being read or scrolled stays put.
const shown = new WeakMap();
function replaceIfChanged(list, items) {
  const text = items.map((item) => item.textContent).join("\u0000");
  if (shown.get(list) === text) return;
  shown.set(list, text);
  list.replaceChildren(...items);
}

async function refreshMailbox() {
  const answer = await call("GET", "/__dev/mailbox", undefined, { auth: false });
  if (!answer.ok || !Array.isArray(answer.data)) return;
  const items = answer.data.map((mail) => {
    const item = document.createElement("li");
    const subject = document.createElement("strong");
    subject.textContent = mail.subject;
    const to = document.createElement("div");
    to.className = "to";
    to.textContent = `Untuk: ${mail.to.join(", ")}`;
    const body = document.createElement("pre");
    body.textContent = mail.text;
    item.append(subject, to, body);
    return item;
  });
  replaceIfChanged($("mailbox"), items);
}

document.addEventListener("DOMContentLoaded", () => {
  $("account").addEventListener("change", (event) => selectAccount(event.target.value));
  $("start-migration").addEventListener("click", () => startFlow("/v1/migrations", "migration"));
  $("start-change").addEventListener("click", () => startFlow("/v1/number-changes", "number_change"));
  $("start-email").addEventListener("click", startEmail);
  $("resend-code").addEventListener("click", () => sendCode(true));
  $("wa-form").addEventListener("submit", sendWhatsApp);
  $("code-form").addEventListener("submit", verifyCode);
  $("number-form").addEventListener("submit", changeNumber);
  $("mail-refresh").addEventListener("click", refreshMailbox);
  $("open-account").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("other-account").value.trim();
    if (id) openAccount(id);
  });
  $("jss-password-form").addEventListener("submit", changePasswordInJss);
  window.addEventListener("focus", () => { followFlow(); refreshMailbox(); refreshEvents(); });
  setInterval(() => { refreshMailbox(); refreshEvents(); }, 3000);
  loadAccounts().then(() => { refreshMailbox(); refreshEvents(); });
});
