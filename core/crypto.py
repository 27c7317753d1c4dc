"""Protection for phone numbers: Fernet encryption for sending, a keyed hash for lookup, a mask for show.

Keys rotate: ``SNPD_ENCRYPTION_KEY`` may list several Fernet keys, newest first (``NEW,OLD``). New
numbers are encrypted with the first, any listed key decrypts, and ``snpd keys rotate`` re-encrypts
every stored number with the first so the old key can go. Lookups use a keyed hash that must not
change while numbers are stored (opt-outs of strangers are kept only as that hash): it is
``SNPD_LOOKUP_KEY`` when set, otherwise derived from the LAST (oldest) listed key, which is what a
single-key install has always used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError


class AddressVault:
    def __init__(self, keys: str, *, lookup_key: str | None = None) -> None:
        listed = [key.strip() for key in keys.split(",") if key.strip()]
        if not listed:
            raise ConfigError("SNPD_ENCRYPTION_KEY is empty; make a key with `snpd keygen`")
        try:
            fernets = [Fernet(key.encode()) for key in listed]
        except (ValueError, TypeError):
            raise ConfigError(
                "SNPD_ENCRYPTION_KEY: expected Fernet keys (32 url-safe base64 bytes each, comma-separated, "
                "newest first); make one with `snpd keygen`"
            ) from None
        self._fernet = MultiFernet(fernets)
        self._primary = fernets[0]
        self.key_count = len(listed)
        self._hash_key = derive_lookup_key(listed[-1]) if lookup_key is None else _decode_lookup_key(lookup_key)

    def encrypt(self, address: str) -> str:
        return self._fernet.encrypt(address.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("stored phone number does not decrypt: SNPD_ENCRYPTION_KEY changed?") from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is already encrypted with the first (newest) key."""
        try:
            self._primary.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the first key (the number itself never leaves this call)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("stored phone number does not decrypt with any listed key") from None

    def lookup_key(self, address: str) -> str:
        return hmac.new(self._hash_key, address.encode(), hashlib.sha256).hexdigest()

    def lookup_secret(self) -> str:
        """The value for ``SNPD_LOOKUP_KEY`` that keeps today's lookups once the old key is removed."""
        return base64.urlsafe_b64encode(self._hash_key).decode()


def derive_lookup_key(fernet_key: str) -> bytes:
    return hashlib.sha256(b"snpd-address-hash:" + base64.urlsafe_b64decode(fernet_key)).digest()


def _decode_lookup_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError("SNPD_LOOKUP_KEY: expected the 44-character value `snpd keys rotate` printed")
    return raw


def mask_phone(number: str) -> str:
    """``+14155550123`` -> ``+1•••••••0123``: enough to recognise, useless to a reader of logs."""
    digits = number.strip()
    if len(digits) <= 6:
        return "•" * len(digits)
    return digits[:2] + "•" * (len(digits) - 6) + digits[-4:]


def new_key() -> str:
    return Fernet.generate_key().decode()
