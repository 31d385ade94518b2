// The local console: drives the real API with a demo account's local token, plays WhatsApp through
// the signed-delivery simulator, and reads the local SES mailbox. Local mode only.
"use strict";

const state = { accounts: [], account: null, token: null, flow: null, verificationId: null, changeToken: null };
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
  return { status: response.status, ok: response.ok, data };
}

function say(text, tone = "info") {
  const result = $("result");
  result.textContent = text;
  result.dataset.tone = tone;
}

function sayProblem(answer) {
  const detail = (answer.data && (answer.data.detail || answer.data.message)) || `HTTP ${answer.status}`;
  say(detail, "error");
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
  state.flow = null;
  $("email-steps").hidden = true;
  $("chat").replaceChildren();
  $("qr-figure").hidden = true;
  $("wa-message").value = "";
  say("");
  await refreshProfile();
}

async function refreshProfile() {
  const answer = await call("GET", "/v1/contact");
  if (!answer.ok) return sayProblem(answer);
  const contact = answer.data;
  $("profile-name").textContent = state.account.name;
  $("profile-phone").textContent = contact.phone_number || "-";
  $("profile-whatsapp").textContent = contact.whatsapp_number || "belum ada";
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
  if (!answer.ok) return sayProblem(answer);
  state.flow = { ...answer.data, kind, statusPath: `${path}/${answer.data.flow_id}` };
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
    if (FINAL.has(status)) clearInterval(timer);
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

async function followFlow() {
  if (!state.flow) return null;
  const answer = await call("GET", state.flow.statusPath);
  if (!answer.ok) {
    sayProblem(answer);
    return null;
  }
  const { status, reason } = answer.data;
  const words = {
    pending: "Menunggu pesan WhatsApp.",
    awaiting_password: "Pesan diterima. Buka tautan biru untuk memasukkan password.",
    completed: "Selesai. Buka tautan biru untuk melihat buktinya.",
    failed: `Gagal (${reason}). Buka tautan biru untuk penjelasannya.`,
    expired: "Kedaluwarsa. Mulai lagi.",
    locked: "Dikunci karena password salah terlalu sering.",
  };
  say(words[status] || status, status === "failed" || status === "locked" ? "error" : "info");
  await refreshProfile();
  return status;
}

async function startEmail() {
  const answer = await call("POST", "/v1/email-verifications");
  if (!answer.ok) return sayProblem(answer);
  state.verificationId = answer.data.verification_id;
  $("email-steps").hidden = false;
  $("code-form").hidden = false;
  $("number-form").hidden = true;
  $("code").value = "";
  $("code").focus();
  say(`Kode verifikasi dikirim ke ${answer.data.sent_to}. Lihat kotak surat.`);
  await refreshMailbox();
}

async function verifyCode(event) {
  event.preventDefault();
  const answer = await call("POST", `/v1/email-verifications/${state.verificationId}/verify`, { code: $("code").value });
  if (!answer.ok) return sayProblem(answer);
  state.changeToken = answer.data.change_token;
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
  $("email-steps").hidden = true;
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
    body.textContent = `${d.journey} → ${d.whatsapp_number}${d.previous_whatsapp_number_masked ? ` (sebelumnya ${d.previous_whatsapp_number_masked})` : ""}\n${d.changed_at} · ${d.event_id}`;
    item.append(title, body);
    return item;
  });
  $("events").replaceChildren(...items);
}

async function refreshMailbox() {
  const answer = await call("GET", "/__dev/mailbox", undefined, { auth: false });
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
  $("mailbox").replaceChildren(...items);
}

document.addEventListener("DOMContentLoaded", () => {
  $("account").addEventListener("change", (event) => selectAccount(event.target.value));
  $("start-migration").addEventListener("click", () => startFlow("/v1/migrations", "migration"));
  $("start-change").addEventListener("click", () => startFlow("/v1/number-changes", "number_change"));
  $("start-email").addEventListener("click", startEmail);
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
