"""The character-level tokenizer of the tiny tracks: a real `PreTrainedTokenizerFast` with a chat template.

One token per character keeps the synthetic skills learnable by a sub-million-parameter model and
makes token counts equal character counts, which keeps the budget arithmetic easy to read.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>", "<|user|>", "<|assistant|>"]
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz +-*=<>:,;.|#?()[]_"

# Assistant turns end with <eos>, so every training target ends with the end token and generation
# stops there. `{% generation %}` marks assistant tokens for TRL's assistant-only loss.
CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ '<|user|>' + m['content'] }}"
    "{% else %}{{ '<|assistant|>' }}{% generation %}{{ m['content'] + '<eos>' }}{% endgeneration %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def build_char_tokenizer(alphabet: str = ALPHABET, vocab_size: int | None = None) -> PreTrainedTokenizerFast:
    """One token per character of `alphabet`, the special tokens and the chat template. `vocab_size` pads the
    vocabulary with filler tokens `<tN>` up to that size (a model with a larger vocabulary, e.g. bench/gpu.py's
    randomly initialised one, then generates only ids that decode)."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + sorted(set(alphabet)))}
    vocab.update({f"<t{i}>": i for i in range(len(vocab), vocab_size or 0)})
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    core.decoder = decoders.Fuse()
    core.add_special_tokens(SPECIAL_TOKENS)  # without this "<|user|>" would split into characters
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens=["<|user|>", "<|assistant|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok
