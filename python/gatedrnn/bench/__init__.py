"""`python -m gatedrnn bench`: gatedrnn's layers and language models timed side
by side with the NumPy spec, PyTorch (when importable) and the BLAS.

- timing.py: the clocks (blocks of calls with a pause before each) and table helpers;
- machine.py: the CPU, its BLAS libraries and the rates the columns are fractions of;
- lstm.py, family.py, models.py, generation.py: the parts, in the order they run;
- cli.py: the arguments and the run.

Nothing here is a test: tests never assert on time.
"""
from .cli import DESCRIPTION, build_parser, main

__all__ = ["DESCRIPTION", "build_parser", "main"]
