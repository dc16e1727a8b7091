"""Column names of the transaction data contract (the API contract v1 fields, docs/data.md)."""

from __future__ import annotations

REQUIRED_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "timestamp",
    "amount",
    "currency",
    "card_id",
    "merchant_id",
    "merchant_category",
    "channel",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "account_id",
    "merchant_country",
    "device_id",
    "ip_address",
    "latitude",
    "longitude",
)
LABEL_COLUMN = "is_fraud"
# Optional: the scope of the transaction id (the id of the API key that scored it, as
# `fraud export` writes it). A transaction is (scope, transaction_id) where it is present.
SCOPE_COLUMN = "scope"
LABEL_REPORTED_COLUMN = "label_reported_at"
CHANNELS: tuple[str, ...] = ("pos", "ecommerce", "atm")

# Read as text whatever they look like: ids such as "0012" must not become numbers.
STRING_COLUMNS: tuple[str, ...] = (
    "scope",
    "transaction_id",
    "timestamp",
    "currency",
    "card_id",
    "account_id",
    "merchant_id",
    "merchant_category",
    "merchant_country",
    "channel",
    "device_id",
    "ip_address",
    "label_reported_at",
    "scenario",
)
