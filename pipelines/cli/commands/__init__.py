"""One module per subcommand (run, status, doctor, plan, …), loaded lazily by cli.main.

Each exposes HELP, configure(parser) and execute(args, context); errors become one line in main.
"""
