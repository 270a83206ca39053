"""Providers: one folder per source, each declaring facts and a fetch/normalize pair.

base.py is the contract, registry.py finds built-ins and plug-ins; providers import only
pipelines.net and pipelines.errors, never run, lake, checks, ops or cli.
"""
