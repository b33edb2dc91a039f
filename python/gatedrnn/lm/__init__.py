"""gatedrnn.lm: the chapter-6 LSTM language model of *Deep Learning from Scratch 2*.

    from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer, eval_perplexity, load_ptb

    corpus, word_to_id, id_to_word = load_ptb("train")
    model = Rnnlm(len(word_to_id), 100, 100, seed=0)
    trainer = RnnlmTrainer(model, SGD(lr=20.0))
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=4, max_grad=0.25, progress=True)
    test, _, _ = load_ptb("test")
    print(eval_perplexity(model, test))

Layers follow the book's params/grads conventions; the LSTM runs on the
package's compiled kernels. Models default to float32, like the book.
"""
from .datasets import (DataIntegrityError, DataNotFoundError, load_corpus, load_ptb,
                       split_words)
from .layers import TimeAffine, TimeDropout, TimeEmbedding, TimeSoftmaxWithLoss
from .models import BetterRnnlm, Rnnlm, model_from_params
from .optim import SGD, Adam
from .params import load_params, save_params
from .trainer import RnnlmTrainer, eval_perplexity, fit_with_lr_decay

__all__ = [
    "Adam", "BetterRnnlm", "DataIntegrityError", "DataNotFoundError", "Rnnlm",
    "RnnlmTrainer", "SGD", "TimeAffine", "TimeDropout", "TimeEmbedding",
    "TimeSoftmaxWithLoss", "eval_perplexity", "fit_with_lr_decay", "load_corpus",
    "load_params", "load_ptb", "model_from_params", "save_params", "split_words",
]
