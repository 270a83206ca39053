"""The ISO 4217 currency codes that rule ``currency_iso4217`` accepts.

Reference data, apart from the rules (pipelines.checks.quality) so the list can be updated alone.
"""

from __future__ import annotations

# The codes of ISO 4217 "list one" (current currencies and funds) as shipped by Debian's
# iso-codes 4.15.0 (/usr/share/iso-codes/json/iso_4217.json, which tracks the list the
# ISO 4217 maintenance agency publishes), plus the later amendments ZWG (Zimbabwe Gold,
# 2024-06-25) and XCG (Caribbean guilder, 2025-03-31); less XTS (reserved for testing)
# and XXX (no currency), which are never a product's price currency. Codes are upper case.
_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS
    INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR
    PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW
    UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA
    YER ZAR ZMW ZWG ZWL
"""
ISO_4217_CODES: frozenset[str] = frozenset(_ISO_4217_TEXT.split())
