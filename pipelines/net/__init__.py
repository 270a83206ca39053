"""The edge to the outside world: the shared HTTP client with retries and breaker, the response

cache, offline recordings, call counters, secret redaction. Imports nothing of ours but errors.
"""
