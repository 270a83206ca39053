"""Operations around runs: the GitHub API client and Actions glue, state sync across runners,

Prometheus metrics, the orchestration plan. Used by cli only; may import run and everything below.
"""
