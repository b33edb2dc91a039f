"""Work in progress (issue 9)."""
DESCRIPTION = "Run one of the book's scripts (work in progress)."


def add_arguments(parser):
    pass


def main(args):
    raise NotImplementedError("python -m gatedrnn book is work in progress")
