"""Trains a small GPT-2 (text_models.gpt2_decoder's architecture: pre-LayerNorm blocks,
causal attention, tanh GELU, output projection tied to the token embedding) on real
text with numpy: hand-written backward passes and Adam. No wheel ships a trained
small decoder, and a random one predicts nothing worth agreeing on; a few hundred
steps on the CPython documentation's sentences give a model whose next-token
predictions are far above chance, in seconds.

Tokens are the WordPiece pieces of all-MiniLM-L6-v2's vocabulary that the training
text uses (re-numbered densely), plus one id for unseen pieces.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import text_models as tm

GELU_C = np.sqrt(2.0 / np.pi)
EPS = 1e-5


class Vocabulary:
    def __init__(self, texts: list[str], tokenizer: tm.WordPiece):
        self.tok = tokenizer
        pieces = sorted({p for t in texts for p in self.pieces(t)})
        self.ids = {p: i + 1 for i, p in enumerate(pieces)}  # 0: a piece the training text never used

    def pieces(self, text: str) -> list[str]:
        return [p for w in self.tok.basic_tokens(text) for p in self.tok.word_pieces(w)]

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.array([self.ids.get(p, 0) for t in texts for p in self.pieces(t)], np.int64)

    def __len__(self) -> int:
        return len(self.ids) + 1


def _layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    rstd = 1.0 / np.sqrt(x.var(-1, keepdims=True) + EPS)
    xhat = (x - mu) * rstd
    return xhat * g + b, (xhat, rstd, g)


def _layer_norm_back(dy, cache):
    xhat, rstd, g = cache
    dxhat = dy * g
    n = xhat.shape[-1]
    dx = rstd / n * (n * dxhat - dxhat.sum(-1, keepdims=True) - xhat * (dxhat * xhat).sum(-1, keepdims=True))
    return dx, (dy * xhat).reshape(-1, n).sum(0), dy.reshape(-1, n).sum(0)


def _gelu(x):
    t = np.tanh(GELU_C * (x + 0.044715 * x * x * x))
    return 0.5 * x * (1 + t), t


def _gelu_back(dy, x, t):
    return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x))


def _forward(w: dict, ids: np.ndarray, heads: int, layers: int):
    B, T = ids.shape
    D = w["wte.weight"].shape[1]
    hd = D // heads
    mask = np.triu(np.full((T, T), -1e9, w["wte.weight"].dtype), 1)
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    caches = []
    for i in range(layers):
        p = f"h.{i}"
        a, ln1 = _layer_norm(x, w[f"{p}.ln_1.weight"], w[f"{p}.ln_1.bias"])
        qkv = a @ w[f"{p}.attn.c_attn.weight"] + w[f"{p}.attn.c_attn.bias"]
        q, k, v = (qkv[..., j * D:(j + 1) * D].reshape(B, T, heads, hd).transpose(0, 2, 1, 3) for j in range(3))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        prob = s / s.sum(-1, keepdims=True)
        o = (prob @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
        x = x + o @ w[f"{p}.attn.c_proj.weight"] + w[f"{p}.attn.c_proj.bias"]
        c, ln2 = _layer_norm(x, w[f"{p}.ln_2.weight"], w[f"{p}.ln_2.bias"])
        f = c @ w[f"{p}.mlp.c_fc.weight"] + w[f"{p}.mlp.c_fc.bias"]
        g, t = _gelu(f)
        x = x + g @ w[f"{p}.mlp.c_proj.weight"] + w[f"{p}.mlp.c_proj.bias"]
        caches.append((a, ln1, q, k, v, prob, o, c, ln2, f, g, t))
    z, lnf = _layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])
    return z @ w["wte.weight"].T, (caches, z, lnf)


def _backward(w: dict, ids: np.ndarray, dlogits: np.ndarray, cache, heads: int, layers: int) -> dict:
    caches, z, lnf = cache
    B, T = ids.shape
    D = w["wte.weight"].shape[1]
    hd = D // heads
    grad = {k: np.zeros_like(v) for k, v in w.items()}
    grad["wte.weight"] += dlogits.reshape(-1, dlogits.shape[-1]).T @ z.reshape(-1, D)
    dx, grad["ln_f.weight"], grad["ln_f.bias"] = _layer_norm_back(dlogits @ w["wte.weight"], lnf)
    for i in reversed(range(layers)):
        p = f"h.{i}"
        a, ln1, q, k, v, prob, o, c, ln2, f, g, t = caches[i]
        grad[f"{p}.mlp.c_proj.weight"] += g.reshape(-1, 4 * D).T @ dx.reshape(-1, D)
        grad[f"{p}.mlp.c_proj.bias"] += dx.reshape(-1, D).sum(0)
        df = _gelu_back(dx @ w[f"{p}.mlp.c_proj.weight"].T, f, t)
        grad[f"{p}.mlp.c_fc.weight"] += c.reshape(-1, D).T @ df.reshape(-1, 4 * D)
        grad[f"{p}.mlp.c_fc.bias"] += df.reshape(-1, 4 * D).sum(0)
        dc, grad[f"{p}.ln_2.weight"], grad[f"{p}.ln_2.bias"] = _layer_norm_back(df @ w[f"{p}.mlp.c_fc.weight"].T, ln2)
        dx = dx + dc
        grad[f"{p}.attn.c_proj.weight"] += o.reshape(-1, D).T @ dx.reshape(-1, D)
        grad[f"{p}.attn.c_proj.bias"] += dx.reshape(-1, D).sum(0)
        do = (dx @ w[f"{p}.attn.c_proj.weight"].T).reshape(B, T, heads, hd).transpose(0, 2, 1, 3)
        dprob = do @ v.transpose(0, 1, 3, 2)
        dv = prob.transpose(0, 1, 3, 2) @ do
        ds = prob * (dprob - (dprob * prob).sum(-1, keepdims=True)) / np.sqrt(hd)
        dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([d.transpose(0, 2, 1, 3).reshape(B, T, D) for d in (dq, dk, dv)], -1)
        grad[f"{p}.attn.c_attn.weight"] += a.reshape(-1, D).T @ dqkv.reshape(-1, 3 * D)
        grad[f"{p}.attn.c_attn.bias"] += dqkv.reshape(-1, 3 * D).sum(0)
        da, grad[f"{p}.ln_1.weight"], grad[f"{p}.ln_1.bias"] = _layer_norm_back(
            dqkv @ w[f"{p}.attn.c_attn.weight"].T, ln1)
        dx = dx + da
    np.add.at(grad["wte.weight"], ids, dx)
    grad["wpe.weight"][:T] += dx.sum(0)
    return grad


def loss_and_grad(w: dict, ids: np.ndarray, heads: int, layers: int) -> tuple[float, dict]:
    """Mean next-token cross-entropy of ids[:, :-1] -> ids[:, 1:], and its gradient."""
    x, y = ids[:, :-1], ids[:, 1:]
    logits, cache = _forward(w, x, heads, layers)
    logits = logits - logits.max(-1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(-1, keepdims=True)
    n = y.size
    loss = float(-np.log(np.take_along_axis(prob, y[..., None], -1) + 1e-12).sum() / n)
    dlogits = prob
    np.put_along_axis(dlogits, y[..., None], np.take_along_axis(dlogits, y[..., None], -1) - 1, -1)
    return loss, _backward(w, x, dlogits / n, cache, heads, layers)


def train(tokens: np.ndarray, vocab: int, width: int = 64, layers: int = 2, heads: int = 4, seq: int = 32,
          steps: int = 300, batch: int = 16, lr: float = 3e-3, seed: int = 0) -> tuple[dict, list[float]]:
    """GPT-2 weights (text_models.gpt2_weights names, float32) trained on windows of `tokens`; the losses."""
    w = tm.gpt2_weights(vocab, width, layers, seq, seed)
    m = {k: np.zeros_like(v) for k, v in w.items()}
    s = {k: np.zeros_like(v) for k, v in w.items()}
    rng = np.random.default_rng(seed)
    losses = []
    for step in range(1, steps + 1):
        starts = rng.integers(0, len(tokens) - seq - 1, batch)
        loss, grad = loss_and_grad(w, np.stack([tokens[i:i + seq + 1] for i in starts]), heads, layers)
        losses.append(loss)
        rate = lr * min(1.0, step / 20)
        for k in w:  # Adam
            m[k] = 0.9 * m[k] + 0.1 * grad[k]
            s[k] = 0.999 * s[k] + 0.001 * grad[k] ** 2
            w[k] -= rate * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(s[k] / (1 - 0.999 ** step)) + 1e-8)
    return w, losses


SEQ, HEADS, STEPS = 32, 4, 200


def corpus() -> tuple[Vocabulary, np.ndarray, np.ndarray]:
    """(vocabulary, training tokens, held-out tokens): the held-out sentences are
    text_models.split_sentences' held-out ones, never trained on."""
    train_text, held_text = tm.split_sentences(300, 100)
    vocab = Vocabulary(train_text, tm.minilm_tokenizer())
    return vocab, vocab.encode(train_text), vocab.encode(held_text)


def trained_decoder() -> Path:
    """The trained decoder as ONNX (text_models.gpt2_decoder, seq SEQ), cached. Training runs
    in a child process with one BLAS thread: on a busy machine, BLAS threads spinning on
    these small products made it 6x slower."""
    path = trained_decoder_path()
    if not path.exists():
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        subprocess.run([sys.executable, __file__, str(path)], env=env, check=True, cwd=Path(__file__).parent)
    return path


def trained_weights() -> dict[str, np.ndarray]:
    """trained_decoder's weights by GPT-2 name (for graphs of the same network, such as
    text_models.gpt2_decode_step), cached beside it; trains as trained_decoder does."""
    path = tm.cache_dir() / f"tiny-gpt2-{STEPS}-seq{SEQ}.npz"
    if not path.exists():
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        subprocess.run([sys.executable, __file__, str(trained_decoder_path())], env=env, check=True,
                       cwd=Path(__file__).parent)
    with np.load(path) as f:
        return dict(f)


def trained_decoder_path() -> Path:
    return tm.cache_dir() / f"tiny-gpt2-{STEPS}-seq{SEQ}.onnx"


def _train_and_save(path: Path) -> None:
    """The decoder as ONNX at path and its weights beside it (.npz), each written whole."""
    vocab, tokens, _ = corpus()
    weights, _ = train(tokens, len(vocab), heads=HEADS, seq=SEQ, steps=STEPS)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(path.with_suffix(".npz"))
    tmp = path.with_suffix(".tmp")
    onnx.save(tm.gpt2_decoder(weights, HEADS, SEQ), str(tmp))
    tmp.replace(path)


if __name__ == "__main__":
    _train_and_save(Path(sys.argv[1]))
