"""Protection for phone numbers: Fernet encryption for sending, a keyed hash for lookup, a mask for show."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigError


class AddressVault:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                "SNPD_ENCRYPTION_KEY: expected a Fernet key (32 url-safe base64 bytes); "
                "make one with `snpd keygen`"
            ) from None
        self._hash_key = hashlib.sha256(b"snpd-address-hash:" + base64.urlsafe_b64decode(key)).digest()

    def encrypt(self, address: str) -> str:
        return self._fernet.encrypt(address.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("stored phone number does not decrypt: SNPD_ENCRYPTION_KEY changed?") from None

    def lookup_key(self, address: str) -> str:
        return hmac.new(self._hash_key, address.encode(), hashlib.sha256).hexdigest()


def mask_phone(number: str) -> str:
    """``+14155550123`` -> ``+1•••••••0123``: enough to recognise, useless to a reader of logs."""
    digits = number.strip()
    if len(digits) <= 6:
        return "•" * len(digits)
    return digits[:2] + "•" * (len(digits) - 6) + digits[-4:]


def new_key() -> str:
    return Fernet.generate_key().decode()
