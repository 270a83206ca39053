"""One module per subcommand (run-step, report, plan, doctor, …), loaded lazily by cli.main.

Each exposes HELP, configure(parser) and execute(args, context); errors become one line in main.
"""
