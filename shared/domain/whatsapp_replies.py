"""What the city's number answers in the chat, after a message was applied (``reply_to``).

Every reply marks the citizen's message as read (two blue ticks) and answers in the same chat, in
Indonesian: the outcome and the next step that works. A reply names no token, no code and no number
but the citizen's own chat: it could be read over a shoulder, and it may land on a shared phone.

Replies are free-form text, allowed only inside WhatsApp's 24-hour customer-service window, which
opens when the citizen writes: each carries the moment the window closes (``send_before``).
"""

from __future__ import annotations

from typing import Any

from shared.domain.flows import FailureReason, FlowStatus, InboundMessage
from shared.domain.hidden_senders import SharedNumber
from shared.domain.whatsapp_messages import CUSTOMER_SERVICE_WINDOW_SECONDS, OutboundMessage

_START_AGAIN = "Silakan buka aplikasi JSS, menu Profil, dan mulai lagi dari sana."
_CONTACT_JSS = "Jika perlu bantuan, hubungi layanan JSS di aplikasi atau kantor pelayanan Pemerintah Kota Yogyakarta."

RECEIVED = {
    "completed": "Pesan Anda sudah kami terima dan nomor WhatsApp ini sudah terhubung dengan akun Jogja Smart "
    "Service Anda. Ketuk tautan biru di pesan yang Anda kirim untuk melihat hasilnya.",
    "awaiting_password": "Pesan Anda sudah kami terima. Untuk menyelesaikan penggantian nomor, buka tautan biru "
    "di pesan yang Anda kirim, ketik password akun JSS Anda, lalu tekan Ubah.",
}

FAILED = {
    FailureReason.FORWARDED: "Pesan ini diteruskan (forward) dari percakapan lain, jadi tidak membuktikan "
    "nomor Anda. Kirim pesan yang disiapkan aplikasi JSS langsung dari nomor Anda, tanpa meneruskannya. "
    + _START_AGAIN,
    FailureReason.NUMBER_TAKEN: "Nomor WhatsApp ini sudah terhubung dengan akun JSS lain, jadi tidak dapat "
    "dipakai untuk akun ini. Lepaskan dulu nomor ini dari akun yang lain, gunakan nomor lain, atau hubungi "
    "layanan JSS.",
    FailureReason.SAME_NUMBER: "Nomor ini sudah menjadi nomor WhatsApp akun JSS Anda; tidak ada yang perlu "
    "diubah. Untuk memakai nomor lain, kirim pesan yang disiapkan dari nomor baru tersebut.",
    FailureReason.MESSAGE_AFTER_EXPIRY: "Permintaan ini sudah kedaluwarsa: pesan harus dikirim sebelum batas waktu "
    "yang ditampilkan aplikasi. " + _START_AGAIN,
    FailureReason.REPLACED: "Permintaan ini sudah diganti oleh permintaan yang lebih baru. Kirim pesan dari "
    "permintaan terakhir Anda, atau mulai lagi dari aplikasi JSS.",
    FailureReason.ALREADY_LINKED: "Akun JSS Anda sudah memiliki nomor WhatsApp. Untuk menggantinya, pilih "
    "Ganti Nomor WhatsApp di menu Profil aplikasi JSS.",
    FailureReason.ACCOUNT_GONE: "Akun JSS untuk permintaan ini tidak ditemukan. " + _CONTACT_JSS,
    FailureReason.SENDER_NUMBER_HIDDEN: "WhatsApp tidak menunjukkan nomor Anda kepada kami, jadi nomor tidak "
    "dapat dibuktikan. " + _START_AGAIN,
}

FINISHED = "Permintaan ini sudah selesai diproses sebelumnya. Lihat hasilnya di tautan biru pesan Anda."
LOCKED = "Permintaan ini dikunci karena password salah terlalu sering dimasukkan; nomor tidak diganti. " + _START_AGAIN
# A message arriving after the flow moved on: what the flow is now, not what the message would do.
WAITING_FOR_PASSWORD = (
    "Permintaan ini sudah menerima pesannya dan kini menunggu password. Buka tautan biru, periksa nomor "
    "yang akan dipasang, ketik password akun JSS Anda, lalu tekan Ubah. Jika nomor itu bukan yang Anda "
    "maksud, jangan tekan Ubah: " + _START_AGAIN[0].lower() + _START_AGAIN[1:]
)
ALREADY = {
    # Maybe from another phone: the link would set the number of the first message, not this one's.
    FlowStatus.AWAITING_PASSWORD: WAITING_FOR_PASSWORD,
    FlowStatus.LOCKED: LOCKED,
    FlowStatus.EXPIRED: FAILED[FailureReason.MESSAGE_AFTER_EXPIRY],
}
UNKNOWN = (
    "Halo, ini nomor WhatsApp resmi Jogja Smart Service. Nomor ini menerima pesan yang disiapkan aplikasi "
    "JSS untuk menghubungkan atau mengganti nomor WhatsApp akun Anda. " + _START_AGAIN
)
NOTHING_WAITING = "Terima kasih. Tidak ada permintaan yang sedang menunggu nomor Anda. " + _START_AGAIN
SHARE_YOUR_NUMBER = (
    "Pesan Anda sudah kami terima, tetapi WhatsApp menyembunyikan nomor Anda. Ketuk tombol di bawah untuk "
    "membagikan nomor WhatsApp Anda, agar kami dapat menghubungkannya dengan akun JSS Anda."
)


def reply_to(message: InboundMessage | SharedNumber, outcome: dict[str, str], now: float) -> OutboundMessage | None:
    """The reply to ``message``, given what applying it did (``outcome``, as the flows return it);
    None for a sender WhatsApp names neither by number nor by user id."""
    to: str | None = message.number if isinstance(message, SharedNumber) else message.sender
    user_id = message.sender_user_id
    if to is None and user_id is None:
        return None
    common: dict[str, Any] = {
        "key": f"reply:{message.message_id}",
        "to": to,
        "recipient": None if to else user_id,
        "read_message_id": message.message_id,
        "reply_to": message.message_id,
        "send_before": (message.sent_at or int(now)) + CUSTOMER_SERVICE_WINDOW_SECONDS,
    }
    if outcome["outcome"] == "awaiting_shared_number":
        return OutboundMessage(**common, contact_request=SHARE_YOUR_NUMBER)
    return OutboundMessage(**common, text=_text(outcome))


def _text(outcome: dict[str, str]) -> str:
    result = outcome["outcome"]
    if result in RECEIVED:
        return RECEIVED[result]
    if result == "flow_not_pending":
        # ``reason``: the flow's failure reason, or its status when it has none
        reason = outcome.get("reason", "")
        if reason in FailureReason:
            return FAILED.get(FailureReason(reason), FINISHED)
        return ALREADY.get(FlowStatus(reason), FINISHED) if reason in FlowStatus else FINISHED
    if result in FailureReason:
        return FAILED.get(FailureReason(result), _START_AGAIN)
    if result == "no_waiting_request":
        return NOTHING_WAITING
    return UNKNOWN
