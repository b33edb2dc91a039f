"""Stand-in for ch07/rnnlm_gen.py: the generator classes, whose generate has the
book's int() of a one-element array (a TypeError on NumPy 2), and a helper of
the user's own that must stay."""
import sys
sys.path.append('..')
import numpy as np
from common.time_layers import TimeLSTM


class RnnlmGen:
    def generate(self, start_id, skip_ids=None, sample_size=100):
        return [int(np.array([start_id]))]


class BetterRnnlmGen(RnnlmGen):
    pass


def helper():
    return "the user's helper"
