"""A tiny random-weight MLX model folder, built locally in a second or two: no download.

``build_tiny_model(folder)`` writes what ``mlx_lm.load`` reads from a model folder:
- ``config.json``: a llama with 2 layers, hidden size 64, 4 heads, tied embeddings;
- ``model.safetensors``: the weights of ``mlx_lm.models.llama.Model`` as initialised (random, seeded),
  written with ``mx.save_safetensors``;
- ``tokenizer.json``: a byte-level BPE tokenizer trained here with the ``tokenizers`` library on a small
  text made up below;
- ``tokenizer_config.json``: the tokenizer class, special tokens and a simple chat template.

The weights are random, so the model writes gibberish: tests check the shape of what comes back (counts,
timestamps, fields), never its content. Used by tests/test_backend_mlx.py and benchmarks/mlx_overhead.py.
"""

from __future__ import annotations

import json
from pathlib import Path

BOS, EOS = "<s>", "</s>"
SPECIAL = [BOS, EOS, "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}" + EOS + "\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
VOCAB_SIZE = 512
MAX_POSITIONS = 2048

_WORDS = ("the a of to and in is that for it on with as was at by an be this from or which one all "
          "would there their what so up out if about who get go me when make can like time no just him "
          "know take people into year your good some could them see other than then now look only come "
          "its over think also back after use two how our work first well way even new want because any "
          "these give day most us question answer number energy watt joule model token power seven "
          "eleven forty train speed hour kilometre metre water boils degrees capital city river planet").split()


def _corpus(lines: int = 400) -> list[str]:
    """A small deterministic text: sentences made of common words, digits and punctuation."""
    out = []
    n = len(_WORDS)
    for i in range(lines):
        words = [_WORDS[(i * 7 + k * 13 + (i * k) % 5) % n] for k in range(6 + i % 9)]
        out.append(f"{' '.join(words).capitalize()} {i * 37 % 1000}, ({chr(65 + i % 4)}) {i % 7}.")
    return out


def train_tokenizer(vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE tokenizer (``tokenizers.Tokenizer``) trained on ``_corpus()``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok


def model_config(vocab_size: int) -> dict:
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab_size,
        "max_position_embeddings": MAX_POSITIONS,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "bos_token_id": 0,
        "eos_token_id": 1,
    }


def build_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny model into ``folder`` (created) and return it."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer()
    tok.save(str(out / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    cfg = model_config(vocab)
    cfg["bos_token_id"], cfg["eos_token_id"] = tok.token_to_id(BOS), tok.token_to_id(EOS)
    (out / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "add_bos_token": False,
        "model_max_length": MAX_POSITIONS,
        "chat_template": CHAT_TEMPLATE,
    }, indent=2), encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps({"bos_token": BOS, "eos_token": EOS}),
                                                 encoding="utf-8")
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(cfg))
    mx.save_safetensors(str(out / "model.safetensors"), dict(tree_flatten(model.parameters())))
    return out


if __name__ == "__main__":
    import sys

    print(build_tiny_model(sys.argv[1] if len(sys.argv) > 1 else "tiny-mlx-model"))
