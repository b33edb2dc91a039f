"""The book's trained Rnnlm.pkl on PTB test with the book's protocol gives
perplexity 136.08 (measured with the book's own code); ours must agree."""
import numpy as np
import pytest

from gatedrnn.__main__ import main
from gatedrnn.lm import Rnnlm, eval_perplexity, load_ptb, model_from_params

BOOK_TEST_PPL = 136.08


def test_book_rnnlm_test_perplexity(lm_book_rnnlm_pkl, lm_ptb_dir):
    model, info = model_from_params(lm_book_rnnlm_pkl)
    assert isinstance(model, Rnnlm) and info["format"] == "pkl"
    assert [p.shape for p in model.params] == [(10000, 100), (100, 400), (100, 400), (400,),
                                               (100, 10000), (10000,)]
    assert model.dtype == np.float32
    test, _, _ = load_ptb("test", lm_ptb_dir)
    ppl = eval_perplexity(model, test, batch_size=10, time_size=35)
    assert ppl == pytest.approx(BOOK_TEST_PPL, abs=0.05), ppl


def test_cli_eval_of_the_books_pickle(lm_book_rnnlm_pkl, lm_ptb_dir, capsys):
    assert main(["eval", "--params", lm_book_rnnlm_pkl, "--data-dir", lm_ptb_dir,
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "test perplexity: 136.08" in out, out


def test_cli_generate_is_the_books_generate_text(lm_book_rnnlm_pkl, lm_ptb_dir, capsys):
    """`generate --start you --seed 1` on the book's Rnnlm.pkl prints 100 words:
    generate_text.py's, with np.random.seed(1) before its generate (or a tie)."""
    from book_generator import BookGenerator, assert_same_ids_or_tie
    assert main(["generate", "--params", lm_book_rnnlm_pkl, "--data-dir", lm_ptb_dir,
                 "--start", "you", "--seed", "1"]) == 0
    words = capsys.readouterr().out.replace(".\n", " <eos>\n").split()
    assert len(words) == 100
    model, _ = model_from_params(lm_book_rnnlm_pkl)
    _, word_to_id, id_to_word = load_ptb("train", lm_ptb_dir)
    book = BookGenerator(model)
    np.random.seed(1)
    expected = book.generate(word_to_id["you"], [word_to_id[w] for w in ("N", "<unk>", "$")])
    assert_same_ids_or_tie([word_to_id[w] for w in words], expected, book, 2e-6)
