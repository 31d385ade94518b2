// The local console: drives the real API with a demo account's local token, plays WhatsApp through
// the signed-delivery simulator (and shows what the city's number sends back, from the local Graph
// API's outbox), and reads the local SES mailbox. Local mode only.
"use strict";

const state = {
  accounts: [], account: null, token: null, contact: null, flow: null,
  verificationId: null, changeToken: null, resendAt: 0, resendTimer: null,
  // The city's side of the chat: the outbox read up to outboxSeq, polled until watchUntil; who this
  // chat is (numbers and the hidden sender's user id), the citizen's sent bubbles by wamid, and the
  // wamids the city has marked read.
  outboxSeq: 0, watchUntil: 0, sending: false, addresses: new Set(), sentBubbles: new Map(), readIds: new Set(),
};
// The outbox is polled this often while a journey goes on, and for a minute after the last step.
const OUTBOX_POLL_MS = 1500;
const WATCH_AFTER_MS = 60_000;
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
  forgetConversation();
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
  // Numbers shown here are this chat's too: a warning to the replaced number appears in it.
  for (const number of [contact.whatsapp_number, contact.phone_number]) if (number) state.addresses.add(number);
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
  await startWatching();
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

// One chat bubble: the citizen's (outgoing, with ticks) or the city's; links open the link page in a
// phone-sized window. ``label`` names what kind of message it is, ``quote`` the message it answers.
function bubble(text, { outgoing = false, label = "", quote = "" } = {}) {
  const item = document.createElement("div");
  item.className = outgoing ? "bubble out" : "bubble in";
  if (label) {
    const named = document.createElement("strong");
    named.className = "bubble-label";
    named.textContent = label;
    item.append(named);
  }
  if (quote) {
    const quoted = document.createElement("span");
    quoted.className = "quote";
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = "Membalas: ";
    quoted.append(words, quote.length > 80 ? `${quote.slice(0, 80)}…` : quote);
    item.append(quoted);
  }
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
  if (outgoing) {
    const ticks = document.createElement("span");
    ticks.className = "ticks";
    item.append(ticks);
    showTicks(item, "sent");
  }
  const chat = $("chat");
  chat.append(item);
  chat.scrollTop = chat.scrollHeight; // the chat follows its newest bubble; the page stays where it is
  return item;
}

// WhatsApp's ticks, with their words (Indonesian WhatsApp's own) beside them: grey and blue differ
// by more than colour, and a screen reader hears the word only.
const TICKS = {
  sent: ["✓", "Terkirim"],
  delivered: ["✓✓", "Diterima"],
  read: ["✓✓", "Dibaca"],
  failed: ["!", "Tidak terkirim"],
};
function showTicks(item, status) {
  const ticks = item.querySelector(".ticks");
  if (ticks.dataset.status === "read") return; // a late answer never takes the blue ticks back
  const [marks, words] = TICKS[status];
  const shown = document.createElement("span");
  shown.setAttribute("aria-hidden", "true");
  shown.textContent = marks;
  ticks.dataset.status = status;
  ticks.replaceChildren(shown, ` ${words}`);
}

async function sendWhatsApp(event) {
  event.preventDefault();
  const text = $("wa-message").value;
  if (!text.trim()) return say("Mulai proses dulu: belum ada pesan untuk dikirim.", "error");
  const hidden = $("wa-hidden").checked;
  const item = bubble(text, { outgoing: true });
  item.dataset.text = text; // what a reply quotes
  await deliver(item, {
    text,
    sender: hidden ? null : $("wa-sender").value,
    forwarded: $("wa-forwarded").checked,
  });
}

// The hidden sender taps the city's "Bagikan nomor": WhatsApp shares the number of the account,
// here the one in the sender field (the simulator's stand-in for that account's number).
async function shareNumber(button) {
  if (button.dataset.busy === "true") return; // one tap, one contact
  const number = $("wa-sender").value.trim();
  if (!number) {
    say("Isi Nomor WhatsApp pengirim dulu: nomor itulah yang dibagikan.", "error");
    return $("wa-sender").focus();
  }
  button.dataset.busy = "true";
  button.setAttribute("aria-disabled", "true");
  const item = bubble(`Warga Jogja\n${number}`, { outgoing: true, label: "Kontak dibagikan" });
  item.dataset.text = `Kontak: Warga Jogja ${number}`; // what a reply quotes
  try {
    await deliver(item, { share_number: number });
  } finally {
    delete button.dataset.busy;
    button.removeAttribute("aria-disabled");
  }
}

// One message of the citizen's through the simulator: its bubble gets the message's id and ticks,
// and the chat follows who the city answers (the sender, or the number shared).
async function deliver(item, body) {
  keepWatching();
  state.sending = true; // the outbox is read once this message's id is known, so no tick is missed
  let answer;
  try {
    answer = await call("POST", "/__dev/whatsapp/send", body, { auth: false });
    const sent = answer.data || {};
    if (sent.message_id) {
      item.dataset.messageId = sent.message_id;
      state.sentBubbles.set(sent.message_id, item);
    }
    if (sent.sender) state.addresses.add(sent.sender);
  } finally {
    state.sending = false;
  }
  if (!answer.ok) {
    showTicks(item, "failed");
    // The webhook's own answer (a problem document), or the simulator's when it sent nothing.
    return sayProblem({ ...answer, data: (answer.data && answer.data.webhook) || answer.data });
  }
  showTicks(item, state.readIds.has(item.dataset.messageId) ? "read" : "delivered");
  item.dataset.delivered = "true";
  await Promise.all([followFlow(), readOutbox()]);
}

// Meta's request_contact_info button under the city's message, and what it shares, in words.
function offerToShare(item, seq) {
  const hint = document.createElement("span");
  hint.className = "share-hint";
  hint.id = `share-hint-${seq}`;
  hint.textContent = "Simulator: membagikan nomor di kolom Nomor WhatsApp pengirim di bawah.";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "share-number";
  button.textContent = "Bagikan nomor";
  button.setAttribute("aria-describedby", hint.id);
  button.addEventListener("click", () => shareNumber(button));
  item.append(button, hint);
  $("chat").scrollTop = $("chat").scrollHeight;
}

// ------------------------------------------------------------------ what the city's number sends

function keepWatching() {
  state.watchUntil = Date.now() + WATCH_AFTER_MS;
}

// A journey starts: from now on, what the city sends to this chat shows in it (nothing from before).
async function startWatching() {
  if (Date.now() >= state.watchUntil) await readOutbox({ show: false });
  keepWatching();
}

function forgetConversation() {
  state.watchUntil = 0;
  state.addresses.clear();
  state.sentBubbles.clear();
  state.readIds.clear();
  $("chat").replaceChildren();
}

// What the local Graph API accepted since the last read, oldest first: read receipts turn the
// citizen's ticks blue; messages to this chat (or answering its messages) become the city's bubbles.
async function readOutbox({ show = true } = {}) {
  if (state.sending) return;
  const answer = await call("GET", `/__dev/whatsapp/outbox?after=${state.outboxSeq}`, undefined, { auth: false });
  if (!answer.ok || !Array.isArray(answer.data)) return;
  for (const record of answer.data.slice().reverse()) {
    if (record.seq <= state.outboxSeq) continue; // read already by a poll that overlapped this one
    state.outboxSeq = record.seq;
    if (show) showFromCity(record);
  }
}

function showFromCity(record) {
  if (record.type === "read") {
    state.readIds.add(record.message_id);
    const item = state.sentBubbles.get(record.message_id);
    if (item) showTicks(item, "read");
    return;
  }
  const answered = record.reply_to && state.sentBubbles.get(record.reply_to);
  if (!answered && !state.addresses.has(record.to || record.recipient)) return;
  const quote = answered ? answered.dataset.text : "";
  if (record.type === "template") {
    const label = `Template ${record.template} untuk ${record.to || record.recipient}`;
    bubble(record.parameters.join("\n"), { label, quote });
  } else if (record.type === "interactive") {
    offerToShare(bubble(record.text, { label: "Permintaan berbagi nomor", quote }), record.seq);
  } else {
    bubble(record.text, { quote });
  }
  keepWatching(); // the conversation goes on
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
  if (!FINAL.has(status)) keepWatching();
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
  await startWatching(); // a changed number's warning goes to the replaced one
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
  keepWatching();
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
  setInterval(() => { if (Date.now() < state.watchUntil) readOutbox(); }, OUTBOX_POLL_MS);
  loadAccounts().then(() => { refreshMailbox(); refreshEvents(); });
});
