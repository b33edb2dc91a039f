"""Stand-in for gatedrnn.book.time_layers. TimeGRU is not in the user's module: install()
sets every name of __all__."""
__all__ = ["TimeRNN", "TimeLSTM", "TimeGRU"]


class TimeRNN:
    pass


class TimeLSTM:
    pass


class TimeGRU:
    pass
