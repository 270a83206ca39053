"""The command line: argument parsing, output, status, and one module per subcommand.

The top of the house: it may import every wing; nothing imports it but pipelines/run_pipeline.py
and the ``pipeline`` console command (``pipelines.cli.main:console``, pyproject.toml).
"""
