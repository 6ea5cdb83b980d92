"""Subcommands of the ``semrsm`` console command (see semrsm.cli)."""
