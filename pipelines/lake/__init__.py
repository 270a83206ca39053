"""Where data lands: storage (local or S3), parts and manifests, the commit lock, dedup state,

Delta tables, the run log and the canonical schema. Imports only net and errors: never checks,
run, providers, ops or cli.
"""
