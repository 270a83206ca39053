"""Exports of the current catalog for people and other systems (docs/exports.md).

``catalog.py`` reads the current catalog from the lake's committed parts, ``cells.py`` makes
provider text safe in spreadsheet cells, ``tables.py`` writes the CSV, ``workbook.py`` the Excel
workbook, ``merchant_rules.py`` holds Google Merchant Center's product data rules and
``merchant.py`` writes the Merchant Center feed and the rows that cannot qualify. The command
line's ``export`` subcommand (``pipelines/cli/commands/export.py``) calls them.
"""
