"""The Creators API's marketplaces: country code to store host, as plain data.

A copy of ``amazon_creatorsapi.core.marketplaces.MARKETPLACES`` (python-amazon-paapi 7.1.0):
importing anything of that package loads the whole SDK (its generated models), which the
settings, ``providers`` and ``status`` do not need. tests/providers/test_amazon.py checks that
the copy matches the SDK's table.
"""

MARKETPLACES: dict[str, str] = {
    "AU": "www.amazon.com.au",
    "BE": "www.amazon.com.be",
    "BR": "www.amazon.com.br",
    "CA": "www.amazon.ca",
    "FR": "www.amazon.fr",
    "DE": "www.amazon.de",
    "IN": "www.amazon.in",
    "IT": "www.amazon.it",
    "JP": "www.amazon.co.jp",
    "MX": "www.amazon.com.mx",
    "NL": "www.amazon.nl",
    "PL": "www.amazon.pl",
    "SG": "www.amazon.sg",
    "SA": "www.amazon.sa",
    "ES": "www.amazon.es",
    "SE": "www.amazon.se",
    "TR": "www.amazon.com.tr",
    "AE": "www.amazon.ae",
    "UK": "www.amazon.co.uk",
    "US": "www.amazon.com",
}
