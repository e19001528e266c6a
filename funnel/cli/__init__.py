"""`python -m funnel <command>`: one module per command."""
