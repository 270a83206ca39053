"""The run: the step graph and its steps (extract, normalize, quality, write, detect, report).

Wires providers, checks and the lake together and does none of their work; may import checks,
lake, providers, net, config and errors, never ops or cli.
"""
