"""Exports standard torchvision / transformers architectures with random
weights to ONNX, and writes the variants onnxruntime's own tools make of
them (transformer optimizer: com.microsoft fused ops; dynamic and static
quantization: QLinear*, DynamicQuantize*), into a cache folder.

Runs in a separate virtual environment (torch is not a nanort dependency):

    python3 -m venv zoo-venv
    zoo-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 transformers onnx onnxscript onnxruntime
    zoo-venv/bin/python bench/zoo/export.py [--cache DIR] [--only NAME ...]

Each model is written once (an existing file is kept). Weights are random
(seeded): speed and agreement do not depend on training.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

import torch


class Seg(torch.nn.Module):
    """A segmentation model's "out" tensor."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


class LastHidden(torch.nn.Module):
    """A transformers model's first output (the last hidden state)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, *args):
        return self.m(*args)[0]


def _cache(args) -> Path:
    root = Path(args.cache or os.environ.get("NANORT_CACHE", Path.home() / ".cache" / "nanort")) / "zoo" / "exported"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _export(module, example, path: Path, names_in, names_out, dynamic=None) -> None:
    module.eval()
    tmp = path.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(module, example, str(tmp), input_names=names_in, output_names=names_out, opset_version=17,
                          dynamo=False, dynamic_axes=dynamic)
    tmp.replace(path)


def torchvision_models():
    import torchvision.models as tvm
    from torchvision.models import segmentation

    img = torch.randn(1, 3, 224, 224)
    for name in ("resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny",
                 "shufflenet_v2_x1_0", "squeezenet1_1", "regnet_y_400mf", "mnasnet0_5"):
        yield f"tv_{name}", lambda name=name: getattr(tvm, name)(weights=None), (img,)
    yield ("tv_deeplabv3_mobilenet", lambda: Seg(segmentation.deeplabv3_mobilenet_v3_large(weights=None,
                                                                                           weights_backbone=None)),
           (torch.randn(1, 3, 256, 256),))


def transformers_models():
    import transformers as tf

    ids = torch.randint(0, 1000, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.long)
    yield ("hf_bert_small", lambda: LastHidden(tf.BertModel(tf.BertConfig(
        vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024))),
           (ids, mask))
    yield ("hf_gpt2_small", lambda: LastHidden(tf.GPT2Model(tf.GPT2Config(vocab_size=1000, n_embd=256, n_layer=4,
                                                                            n_head=4, n_positions=256))),
           (torch.randint(0, 1000, (1, 64)),))
    yield ("hf_whisper_tiny_encoder",
           lambda: LastHidden(tf.WhisperModel(tf.WhisperConfig(d_model=384, encoder_layers=4, encoder_attention_heads=6,
                                                                encoder_ffn_dim=1536, decoder_layers=1,
                                                                num_mel_bins=80)).get_encoder()),
           (torch.randn(1, 80, 3000),))
    yield ("hf_vit_small", lambda: LastHidden(tf.ViTModel(tf.ViTConfig(hidden_size=384, num_hidden_layers=6,
                                                                          num_attention_heads=6, intermediate_size=1536,
                                                                          image_size=224, patch_size=16))),
           (torch.randn(1, 3, 224, 224),))
    yield ("hf_wav2vec2_small", lambda: LastHidden(tf.Wav2Vec2Model(tf.Wav2Vec2Config(
        hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, do_stable_layer_norm=True,
        feat_extract_norm="layer"))), (torch.randn(1, 16000),))
    yield ("hf_distilbert", lambda: LastHidden(tf.DistilBertModel(tf.DistilBertConfig(vocab_size=1000, dim=256,
                                                                                         n_layers=4, n_heads=4,
                                                                                         hidden_dim=1024))),
           (ids, mask))


def ort_variants(root: Path) -> None:
    """What onnxruntime's tools write: the transformer optimizer's fused ops,
    dynamic int8 (MatMulInteger / DynamicQuantizeLSTM), static QOperator int8 (QLinear*)."""
    import numpy as np
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.transformers.optimizer import optimize_model

    for name, kind in (("hf_bert_small", "bert"), ("hf_gpt2_small", "gpt2")):
        src, dst = root / f"{name}.onnx", root / f"{name}_ortopt.onnx"
        if src.exists() and not dst.exists():
            opt = optimize_model(str(src), model_type=kind, num_heads=4, hidden_size=256, opt_level=1)
            opt.save_model_to_file(str(dst))
    src, dst = root / "hf_bert_small.onnx", root / "hf_bert_small_ortdyn.onnx"
    if src.exists() and not dst.exists():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    src, dst = root / "tv_mobilenet_v2.onnx", root / "tv_mobilenet_v2_qoperator.onnx"
    if src.exists() and not dst.exists():
        from onnxruntime.quantization.shape_inference import quant_pre_process

        prepared = root / "tv_mobilenet_v2_prepared.tmp.onnx"
        quant_pre_process(str(src), str(prepared))
        src = prepared

        class Reader(CalibrationDataReader):
            def __init__(self):
                rng = np.random.default_rng(0)
                self.data = iter([{"x": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(4)])

            def get_next(self):
                return next(self.data, None)

        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        prepared.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", help="cache root (default $NANORT_CACHE or ~/.cache/nanort)")
    ap.add_argument("--only", nargs="*", help="export only these")
    args = ap.parse_args()
    torch.manual_seed(0)
    root = _cache(args)
    failed = []
    for name, make, example in list(torchvision_models()) + list(transformers_models()):
        if args.only and name not in args.only:
            continue
        path = root / f"{name}.onnx"
        if path.exists():
            continue
        print(f"exporting {name}", flush=True)
        try:
            inputs = ["x"] if len(example) == 1 else ["input_ids", "attention_mask"]
            _export(make(), example, path, inputs, ["y"])
        except Exception:
            traceback.print_exc()
            failed.append(name)
    try:
        ort_variants(root)
    except Exception:
        traceback.print_exc()
        failed.append("onnxruntime variants")
    print("failed:", ", ".join(failed) if failed else "none")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
