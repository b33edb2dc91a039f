"""Stand-in for a chapter's model module (like ch06/rnnlm.py, which star-imports)."""
from common.time_layers import Embedding, TimeLSTM


class Model:
    def __init__(self):
        self.lstm = TimeLSTM()
        self.embed = Embedding()
