"""Stand-in for one of the book's scripts, run by tests/test_book_runner.py.

    script.py report OUT.json [more args]   write what it sees to OUT.json
    script.py exit N                        sys.exit(N)
    script.py exit-message TEXT             sys.exit(TEXT)
    script.py raise                         raise ValueError
"""
import json
import os
import sys
sys.path.append('..')
import common
import common.time_layers
from common.optimizer import SGD
from common.trainer import Trainer
from common.util import clip_grads, preprocess
from model import Model


def where(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


command = sys.argv[1]
if command == "report":
    model = Model()
    facts = {
        "name": __name__, "file": __file__, "argv": sys.argv, "cwd": os.getcwd(),
        "path": sys.path, "common": common.__path__[0],
        "SGD": where(SGD), "clip_grads": where(clip_grads), "preprocess": where(preprocess),
        "trainer.clip_grads": where(Trainer.clip), "Trainer": where(Trainer),
        "model.TimeLSTM": where(type(model.lstm)), "model.Embedding": where(type(model.embed)),
        "TimeAttention().make_lstm()": where(type(common.time_layers.TimeAttention().make_lstm())),
        "time_layers.np": common.time_layers.np.__name__,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(facts, f)
    print("script: report written")
elif command == "exit":
    sys.exit(int(sys.argv[2]))
elif command == "exit-message":
    sys.exit(sys.argv[2])
elif command == "raise":
    raise ValueError("boom from the script")
