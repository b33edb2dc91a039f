"""Work in progress (issue 9)."""
