"""Buyer data removed from raw records before anything is written (docs/orders.md).

``scrub`` walks a raw record and drops every key of ``DROPPED_KEYS`` wherever it appears
(names, email, phone, street lines, company, notes and free text, the customer object, the
billing address); an address object keeps only ``ADDRESS_KEPT_KEYS`` (country and region),
also inside a nested address (eBay's ``shipTo.contactAddress``).
Where the record names a customer (its ``id``, or eBay's buyer ``username``), ``buyer_key``
replaces it: HMAC-SHA256 of the provider and that id keyed with the operator's secret
(``BUYER_KEY_SECRET_ENV``), or nothing at all without the secret. The secret is registered
(``pipelines.net.secrets``), so it is masked wherever text is written. What is left holds no
name, contact or street: that lands in raw.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pipelines.net.secrets import register_secret

BUYER_KEY_SECRET_ENV = "PIPELINE_BUYER_KEY_SECRET"
BUYER_KEY_FIELD = "__buyer_key"
CUSTOMER_KEYS = ("customer", "buyer")  # objects whose ``id`` makes the buyer key
CUSTOMER_ID_KEYS = ("id", "username")  # eBay names its buyer by ``username`` only
DROPPED_KEYS = frozenset(
    {
        "customer", "buyer", "billingAddress", "billing_address", "email", "contactEmail",
        "phone", "name", "firstName", "lastName", "first_name", "last_name", "displayName",
        "company", "address1", "address2", "street", "city", "zip", "postalCode",
        "latitude", "longitude", "note", "notes", "customAttributes", "note_attributes",
        "clientIp", "browserIp", "customerLocale", "buyerCheckoutMessage",
        # eBay (Sell Fulfillment Order): the buyer's and recipient's names, contacts, notes.
        "username", "fullName", "companyName", "primaryPhone", "addressLine1", "addressLine2",
        "buyerRegistrationAddress", "taxAddress", "taxIdentifier", "buyerCheckoutNotes",
        "giftDetails",
        # Amazon SP-API (Orders v0): buyer objects, address lines, gift messages
        "BuyerInfo", "BuyerTaxInfo", "BuyerEmail", "BuyerName", "BuyerCounty", "Name",
        "AddressLine1", "AddressLine2", "AddressLine3", "City", "County", "District",
        "PostalCode", "Phone", "CompanyName", "GiftMessageText",
        # Amazon SP-API (Orders v2026-01-01): delivery instructions, gift messages, an item's
        # customization (the buyer's own text); ``buyer`` and the address are covered above.
        "deliveryPreference", "giftMessage", "customization",
    }
)  # fmt: skip
ADDRESS_KEYS = frozenset(
    {"shippingAddress", "shipping_address", "shipTo", "shippingAddressV2", "contactAddress",
     "finalDestinationAddress", "ShippingAddress", "deliveryAddress"}
)  # fmt: skip
ADDRESS_KEPT_KEYS = frozenset(
    {"countryCodeV2", "countryCode", "country_code", "provinceCode", "province_code",
     "stateOrProvince", "CountryCode", "StateOrRegion", "stateOrRegion"}
)  # fmt: skip
# Where a key of DROPPED_KEYS is data, not buyer data (a line item's product name).
KEPT_UNDER = frozenset({"lineItems", "line_items", "variant", "product"})


class Scrubber:
    """Removes buyer data from raw records of one provider; makes the buyer key when allowed."""

    def __init__(self, provider: str, env: Mapping[str, str]) -> None:
        self.provider = provider
        secret = env.get(BUYER_KEY_SECRET_ENV) or ""
        self._key = secret.encode() if secret else None
        register_secret(secret or None)

    def scrub(self, record: dict[str, Any], inside: str | None = None) -> dict[str, Any]:
        """``record`` without buyer data (a new object), with ``__buyer_key`` when allowed.

        ``inside`` names the connection the record is a node of, when it is scrubbed on its
        own (a line item's line of a bulk result: ``"lineItems"``), so that it loses what it
        would lose there. Scrubbing a scrubbed record changes nothing."""
        buyer = self.buyer_key(record)
        clean = _scrub(record, inside=inside)
        if buyer is not None:
            clean[BUYER_KEY_FIELD] = buyer
        return clean

    def buyer_key(self, record: Mapping[str, Any]) -> str | None:
        """HMAC-SHA256 (hex) of ``<provider>:<customer id>``, or None (no secret, no customer)."""
        if self._key is None:
            return None
        for key in CUSTOMER_KEYS:
            customer = record.get(key)
            if not isinstance(customer, Mapping):
                continue
            for id_key in CUSTOMER_ID_KEYS:
                if customer.get(id_key):
                    message = f"{self.provider}:{customer[id_key]}".encode()
                    return hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return None


def _scrub(value: Any, inside: str | None) -> Any:
    if isinstance(value, list):
        return [_scrub(item, inside) for item in value]
    if not isinstance(value, Mapping):
        return value
    if inside in ADDRESS_KEYS:  # country and region, also of a nested address (eBay's shipTo)
        return {
            k: _scrub(v, k) if k in ADDRESS_KEYS else v
            for k, v in value.items()
            if k in ADDRESS_KEPT_KEYS or k in ADDRESS_KEYS
        }
    keep_names = inside in KEPT_UNDER
    return {
        key: _scrub(item, key if key in ADDRESS_KEYS | KEPT_UNDER else inside)
        for key, item in value.items()
        if key not in DROPPED_KEYS or (keep_names and key == "name")
    }
