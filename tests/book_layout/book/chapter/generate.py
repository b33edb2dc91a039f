"""Stand-in for ch07/generate_text.py: a small RnnlmGen, np.random.seed(1), and the
text of its generate, printed as the book prints it."""
import sys
sys.path.append('..')
import numpy as np
from rnnlm_gen import RnnlmGen, helper

words = ["a", "b", "c", "d", "<eos>", "e", "f", "g"]
np.random.seed(0)
model = RnnlmGen(vocab_size=len(words), wordvec_size=4, hidden_size=5)
np.random.seed(1)
word_ids = model.generate(0, skip_ids=[7], sample_size=int(sys.argv[1]))
print(' '.join(words[i] for i in word_ids).replace(' <eos>', '.\n'))
print(helper())
