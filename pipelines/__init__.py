"""The product pipeline: providers → normalize → quality → dedup → write → detect → report.

Wings by stage: run/ (the step graph), lake/ (where data lands), checks/ (quality, anomalies,
reports), net/ (HTTP, cache, redaction), ops/ (GitHub, metrics, plan), cli/ (the command line);
errors.py and config.py sit under them all. docs/architecture.md is the map.
"""
