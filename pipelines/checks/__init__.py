"""Checks on data already shaped: quality rules and their config, volume anomalies over the

run history, Markdown/HTML reports. May import lake (for the schema), net and errors only.
"""
