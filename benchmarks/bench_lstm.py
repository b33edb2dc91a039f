#!/usr/bin/env python3
"""Time gatedrnn's TimeLSTM against the NumPy spec, PyTorch's CPU LSTM (when
torch is importable) and the BLAS in use; prints tables and the speed targets.

The logic lives in the package (gatedrnn.bench), so that an installed
gatedrnn runs the same benchmark as `python -m gatedrnn bench`. Options:
`python benchmarks/bench_lstm.py --help`.
"""
import sys

from gatedrnn.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
