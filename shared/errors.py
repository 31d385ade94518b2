"""Every error the service can answer, with a stable code and its Indonesian and English text.

The code is the contract with front ends; the texts may be reworded. ``ServiceError`` carries no
HTTP machinery beyond a status number, so domain code can raise it without knowing API Gateway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    title: str
    detail_id: str
    detail_en: str


CATALOG: dict[str, ErrorSpec] = {
    "unauthorized": ErrorSpec(
        401,
        "Unauthorized",
        "Sesi Anda tidak valid. Silakan masuk kembali ke aplikasi JSS.",
        "Your session is not valid. Please sign in to JSS again.",
    ),
    "invalid_request": ErrorSpec(
        422,
        "Invalid request",
        "Data yang dikirim tidak lengkap atau tidak sesuai format.",
        "The request is incomplete or not in the expected format.",
    ),
    "unsupported_media_type": ErrorSpec(
        415,
        "Unsupported media type",
        "Format data tidak didukung. Kirim data sebagai JSON (Content-Type: application/json).",
        "This body format is not supported. Send JSON (Content-Type: application/json).",
    ),
    "body_too_large": ErrorSpec(
        413,
        "Body too large",
        "Data yang dikirim terlalu besar.",
        "The request body is too large.",
    ),
    "body_unreadable": ErrorSpec(
        400,
        "Body not readable",
        "Data yang dikirim tidak dapat dibaca. Pastikan isinya JSON yang benar dalam UTF-8.",
        "The request body could not be read. Make sure it is valid JSON in UTF-8.",
    ),
    "not_found": ErrorSpec(
        404,
        "Not found",
        "Alamat yang Anda tuju tidak ditemukan.",
        "The address you asked for does not exist.",
    ),
    "method_not_allowed": ErrorSpec(
        405,
        "Method not allowed",
        "Metode permintaan ini tidak didukung untuk alamat tersebut.",
        "This request method is not supported for that address.",
    ),
    "account_not_found": ErrorSpec(
        404,
        "Account not found",
        "Akun JSS Anda tidak ditemukan. Silakan hubungi layanan JSS.",
        "Your JSS account was not found. Please contact JSS support.",
    ),
    "flow_not_found": ErrorSpec(
        404,
        "Flow not found",
        "Proses verifikasi tidak ditemukan.",
        "The verification process was not found.",
    ),
    "link_not_found": ErrorSpec(
        404,
        "Link not valid",
        "Tautan ini tidak berlaku. Tautan mungkin salah, sudah digunakan, atau sudah kedaluwarsa. "
        "Silakan mulai lagi dari menu Profil di aplikasi JSS.",
        "This link is not valid. It may be wrong, already used, or expired. "
        "Please start again from the Profile menu in the JSS app.",
    ),
    "too_many_starts": ErrorSpec(
        429,
        "Too many requests",
        "Terlalu banyak permintaan. Silakan coba lagi dalam {wait}.",
        "Too many requests. Please try again in {wait}.",
    ),
    "whatsapp_already_linked": ErrorSpec(
        409,
        "WhatsApp number already linked",
        "Akun Anda sudah memakai Nomor WhatsApp. Gunakan menu Nomor WhatsApp untuk menggantinya.",
        "Your account already uses a WhatsApp number. Use the WhatsApp number menu to change it.",
    ),
    "migration_required": ErrorSpec(
        409,
        "Migration required",
        "Akun Anda belum memiliki Nomor WhatsApp. Silakan lakukan Migrasi ke WhatsApp terlebih dahulu.",
        "Your account has no WhatsApp number yet. Please migrate to WhatsApp first.",
    ),
    "flow_awaiting_message": ErrorSpec(
        409,
        "Waiting for the WhatsApp message",
        "Pesan WhatsApp Anda belum kami terima. Kirim pesan yang sudah disiapkan, lalu buka tautan lagi.",
        "We have not received your WhatsApp message yet. Send the prepared message, then open the link again.",
    ),
    "wrong_password": ErrorSpec(
        403,
        "Wrong password",
        "Password salah. Sisa percobaan: {tries_left}.",
        "Wrong password. Tries left: {tries_left}.",
    ),
    "flow_locked": ErrorSpec(
        423,
        "Locked",
        "Terlalu banyak percobaan password yang salah. Proses ini dikunci; silakan mulai lagi dari aplikasi JSS.",
        "Too many wrong passwords. This process is locked; please start again from the JSS app.",
    ),
    "password_locked": ErrorSpec(
        429,
        "Password confirmation locked",
        "Terlalu banyak percobaan password yang salah. Konfirmasi password dikunci sampai pukul {text_locked_until}.",
        "Too many wrong passwords. Password confirmation is locked until {text_locked_until}.",
    ),
    "forgery_check_failed": ErrorSpec(
        403,
        "Form not valid",
        "Formulir ini tidak berasal dari halaman tautan Anda. Buka lagi tautan biru dari pesan WhatsApp Anda, "
        "lalu coba lagi.",
        "This form did not come from your link's page. Open the blue link from your WhatsApp message again, "
        "then try again.",
    ),
    "form_expired": ErrorSpec(
        403,
        "Form expired",
        "Waktu {minutes} menit untuk mengganti nomor sudah habis. Silakan mulai lagi dari aplikasi JSS: "
        "menu Profil, Nomor WhatsApp, lalu Melalui WhatsApp.",
        "The {minutes} minutes to change the number are over. Please start again in the JSS app: Profile menu, "
        "Nomor WhatsApp, then Melalui WhatsApp.",
    ),
    "email_not_registered": ErrorSpec(
        409,
        "No registered email",
        "Akun Anda belum memiliki email terdaftar. Gunakan verifikasi Melalui WhatsApp.",
        "Your account has no registered email. Use verification through WhatsApp instead.",
    ),
    "email_send_failed": ErrorSpec(
        503,
        "Email not sent",
        "Email verifikasi belum dapat dikirim. Silakan coba lagi beberapa saat lagi.",
        "The verification email could not be sent. Please try again in a moment.",
    ),
    "code_resend_too_soon": ErrorSpec(
        429,
        "Too soon",
        "Kode baru dapat diminta lagi dalam {wait}.",
        "A new code can be requested in {wait}.",
    ),
    "code_hourly_limit": ErrorSpec(
        429,
        "Too many codes",
        "Batas permintaan kode tercapai. Silakan coba lagi dalam {wait}.",
        "The code request limit was reached. Please try again in {wait}.",
    ),
    "verification_not_found": ErrorSpec(
        404,
        "Verification not found",
        "Permintaan kode verifikasi tidak ditemukan.",
        "The verification request was not found.",
    ),
    "code_wrong": ErrorSpec(
        422,
        "Wrong code",
        "Kode verifikasi salah. Sisa percobaan: {tries_left}.",
        "Wrong verification code. Tries left: {tries_left}.",
    ),
    "code_exhausted": ErrorSpec(
        410,
        "Code no longer valid",
        "Kode salah terlalu sering dimasukkan dan tidak berlaku lagi. Silakan minta kode baru.",
        "The code was entered wrongly too often and is no longer valid. Please request a new code.",
    ),
    "code_expired": ErrorSpec(
        410,
        "Code expired",
        "Kode verifikasi sudah kedaluwarsa. Silakan minta kode baru.",
        "The verification code has expired. Please request a new code.",
    ),
    "code_used": ErrorSpec(
        409,
        "Code already used",
        "Kode verifikasi sudah digunakan. Silakan minta kode baru bila perlu.",
        "The verification code was already used. Request a new code if needed.",
    ),
    "code_superseded": ErrorSpec(
        410,
        "Code replaced",
        "Kode ini sudah diganti dengan kode yang lebih baru. Gunakan kode terakhir di email Anda.",
        "This code was replaced by a newer one. Use the latest code in your email.",
    ),
    "change_token_invalid": ErrorSpec(
        403,
        "Change token not valid",
        "Izin penggantian nomor tidak berlaku atau sudah digunakan. Silakan verifikasi email kembali.",
        "The change permission is not valid or was already used. Please verify your email again.",
    ),
    "whatsapp_number_invalid": ErrorSpec(
        422,
        "Invalid WhatsApp number",
        "{text_reason}",
        "{text_reason_en}",
    ),
    "whatsapp_number_taken": ErrorSpec(
        409,
        "Number already used",
        "Nomor WhatsApp ini sudah digunakan oleh akun JSS lain.",
        "This WhatsApp number is already used by another JSS account.",
    ),
    "whatsapp_number_is_city": ErrorSpec(
        422,
        "The city's own number",
        "Nomor ini adalah nomor WhatsApp resmi JSS Kota Yogyakarta. Masukkan nomor WhatsApp Anda sendiri.",
        "This is the official WhatsApp number of JSS Yogyakarta. Enter your own WhatsApp number.",
    ),
    "whatsapp_number_unchanged": ErrorSpec(
        409,
        "Same number",
        "Nomor WhatsApp baru sama dengan nomor yang sekarang.",
        "The new WhatsApp number is the same as the current one.",
    ),
    "number_changes_blocked": ErrorSpec(
        429,
        "Number changes blocked",
        "Demi keamanan, Nomor WhatsApp akun ini tidak dapat diganti sampai {text_locked_until} karena perubahan "
        'nomor sebelumnya dibatalkan melalui tautan "Bukan saya". Jika Anda butuh bantuan, hubungi layanan JSS.',
        "For your security, this account's WhatsApp number cannot be changed until {text_locked_until}, because "
        'an earlier change was undone through the "Not me" link. If you need help, contact JSS support.',
    ),
    "undo_not_found": ErrorSpec(
        404,
        "Undo link not valid",
        "Tautan pembatalan ini tidak dikenal. Pastikan Anda membuka tautan lengkap dari email atau pesan WhatsApp "
        "pemberitahuan. Jika Nomor WhatsApp akun Anda diganti tanpa sepengetahuan Anda, segera hubungi layanan JSS.",
        "This undo link is not known. Make sure you opened the whole link from the notification email or WhatsApp "
        "message. If your account's WhatsApp number was changed without your knowledge, contact JSS support now.",
    ),
    "undo_expired": ErrorSpec(
        410,
        "Undo link expired",
        "Tautan pembatalan ini sudah tidak berlaku: tautan hanya dapat dipakai selama 7 hari setelah perubahan. "
        "Jika Nomor WhatsApp akun Anda diganti tanpa sepengetahuan Anda, segera hubungi layanan JSS dan ganti "
        "password akun JSS Anda.",
        "This undo link is no longer valid: it works for 7 days after the change. If your account's WhatsApp "
        "number was changed without your knowledge, contact JSS support now and change your JSS password.",
    ),
    "undo_used": ErrorSpec(
        409,
        "Change already undone",
        "Perubahan ini sudah dibatalkan sebelumnya; Nomor WhatsApp sebelumnya sudah dipulihkan. Tidak ada yang "
        "berubah sekarang. Jika Anda butuh bantuan, hubungi layanan JSS.",
        "This change was undone already; the previous WhatsApp number is back. Nothing changed now. If you need "
        "help, contact JSS support.",
    ),
    "undo_superseded": ErrorSpec(
        409,
        "Change no longer the latest",
        "Tautan ini tidak dapat dipakai lagi karena Nomor WhatsApp akun ini sudah berubah lagi setelahnya. "
        "Tidak ada yang berubah. Pemberitahuan perubahan yang terbaru (email dan WhatsApp) membawa tautan "
        '"Bukan saya" yang baru, yang memulihkan nomor sebelum kedua perubahan: gunakan tautan itu. Jika '
        "Anda tidak menerimanya, segera hubungi layanan JSS dan ganti password akun JSS Anda.",
        "This link can no longer be used, because the account's WhatsApp number changed again after it. "
        'Nothing changed. The latest change notice (email and WhatsApp) carries a new "Bukan saya" link, which '
        "restores the number from before both changes: use that one. If you did not receive it, contact JSS "
        "support now and change your JSS password.",
    ),
    "undo_number_taken": ErrorSpec(
        409,
        "Previous number taken",
        "Nomor WhatsApp sebelumnya tidak dapat dipulihkan karena kini sudah terhubung dengan akun JSS lain. "
        "Tidak ada yang berubah. Silakan hubungi layanan JSS untuk memulihkan nomor Anda.",
        "The previous WhatsApp number cannot be restored, because it is now linked to another JSS account. "
        "Nothing changed. Please contact JSS support to get your number back.",
    ),
    "undo_form_invalid": ErrorSpec(
        403,
        "Form not valid",
        "Formulir ini sudah terlalu lama terbuka atau tidak berasal dari halaman pembatalan, jadi belum ada yang "
        'berubah. Muat ulang halaman ini, lalu tekan "Ya, batalkan perubahan" sekali lagi.',
        "This form was open too long or did not come from the undo page, so nothing changed yet. Reload this "
        'page, then press "Ya, batalkan perubahan" once more.',
    ),
    "invalid_signature": ErrorSpec(
        401,
        "Invalid signature",
        "Tanda tangan webhook tidak valid.",
        "The webhook signature is not valid.",
    ),
    "verification_failed": ErrorSpec(
        403,
        "Verification failed",
        "Verifikasi webhook gagal.",
        "Webhook verification failed.",
    ),
    "message_in_progress": ErrorSpec(
        409,
        "Message in progress",
        "Pesan yang sama sedang diproses. Kirim ulang nanti.",
        "The same message is being processed. Deliver it again later.",
    ),
    "busy": ErrorSpec(
        429,
        "Busy",
        "Layanan sedang sibuk. Silakan coba lagi dalam beberapa detik.",
        "The service is busy. Please try again in a few seconds.",
    ),
    "service_unavailable": ErrorSpec(
        503,
        "Service unavailable",
        "Layanan sedang mengalami gangguan sementara. Tidak ada data yang berubah; silakan coba lagi dalam {wait}.",
        "The service has a temporary problem. Nothing was changed; please try again in {wait}.",
    ),
    "internal_error": ErrorSpec(
        500,
        "Internal error",
        "Terjadi gangguan pada layanan. Silakan coba lagi beberapa saat lagi.",
        "Something went wrong on our side. Please try again in a moment.",
    ),
}


class ServiceError(Exception):
    """A business outcome that ends a request with a client-facing error."""

    def __init__(self, code: str, *, retry_after: int | None = None, **fields: Any) -> None:
        """``fields`` fill the texts and, except those named ``text_*``, the problem document."""
        self.spec = CATALOG[code]
        self.code = code
        self.retry_after = retry_after
        self.fields = fields
        super().__init__(code)

    @property
    def status(self) -> int:
        return self.spec.status

    def detail(self, language: str = "id") -> str:
        template = self.spec.detail_en if language == "en" else self.spec.detail_id
        return template.format(retry_after=self.retry_after, wait=_wait(self.retry_after, language), **self.fields)

    def public_fields(self) -> dict[str, Any]:
        """Extra members of the problem document (RFC 9457 extensions) the app may read."""
        extras = {k: v for k, v in self.fields.items() if not k.startswith("text_")}
        if self.retry_after is not None:
            extras["retry_after"] = self.retry_after
        return extras


def _wait(seconds: int | None, language: str) -> str:
    """A wait as people say it: seconds under a minute, whole minutes (rounded up) from there."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds} detik" if language != "en" else f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} menit" if language != "en" else f"{minutes} minute{'' if minutes == 1 else 's'}"
