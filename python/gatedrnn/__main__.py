"""Command line: `python -m gatedrnn [demo | bench]`."""
import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m gatedrnn",
                                     description="gatedrnn: a fast, verified LSTM for NumPy.")
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="gradient-check the compiled layer and time it "
                                            "against the NumPy spec (the default)")
    demo.add_argument("--quick", action="store_true", help="skip the largest size")

    from . import bench
    bench.build_parser(commands.add_parser(
        "bench", help="time TimeLSTM against the spec, PyTorch (if installed) and the BLAS",
        description=bench.DESCRIPTION))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command in (None, "demo"):
        from . import demo
        return demo.main(quick=getattr(args, "quick", False))
    if args.command == "bench":
        from . import bench
        return bench.main(args=args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
