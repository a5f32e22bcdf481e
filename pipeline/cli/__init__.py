"""The ``wiredesk`` command: argument parsing and one module per subcommand."""
