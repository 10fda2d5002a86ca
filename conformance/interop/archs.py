"""Tiny random-weight Hugging Face models built from config classes.

Nothing is downloaded: each architecture is a config with small sizes
(hidden 32, 2 layers, vocabulary 100), initialized with a fixed seed and
saved with save_pretrained into a local folder, which is what the
exporters read, exactly as they read a checkpoint from the hub.
"""
import dataclasses

import numpy as np

VOCAB = 100
TEXT = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=64)
VISION = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              image_size=32, patch_size=8, num_channels=3)


@dataclasses.dataclass
class Arch:
    name: str
    config: str          # transformers config class
    model: str           # transformers model class (the base model, AutoModel's choice)
    kwargs: dict
    kind: str            # "text" or "vision"
    ort_type: str        # onnxruntime.transformers.optimizer model_type ("" for none)
    optimum: bool = True  # optimum-onnx exports it with task feature-extraction

    def build(self, **extra):
        import torch
        import transformers
        torch.manual_seed(0)
        cfg = getattr(transformers, self.config)(**self.kwargs, **extra)
        m = getattr(transformers, self.model)(cfg)
        return m.eval()

    @property
    def pad_id(self):
        return self.kwargs.get("pad_token_id", 0)


ARCHS = [
    Arch("bert", "BertConfig", "BertModel", dict(TEXT, type_vocab_size=2), "text", "bert"),
    Arch("roberta", "RobertaConfig", "RobertaModel", dict(TEXT, pad_token_id=1, max_position_embeddings=66),
         "text", "bert"),
    Arch("distilbert", "DistilBertConfig", "DistilBertModel",
         dict(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64),
         "text", "bert"),
    Arch("albert", "AlbertConfig", "AlbertModel", dict(TEXT, embedding_size=16), "text", "bert"),
    Arch("electra", "ElectraConfig", "ElectraModel", dict(TEXT, embedding_size=16), "text", "bert"),
    Arch("deberta-v2", "DebertaV2Config", "DebertaV2Model",
         dict(TEXT, relative_attention=True, position_buckets=16, max_relative_positions=32,
              pos_att_type=["p2c", "c2p"], type_vocab_size=0), "text", "bert"),
    Arch("mpnet", "MPNetConfig", "MPNetModel", dict(TEXT, pad_token_id=1, max_position_embeddings=66,
                                                    relative_attention_num_buckets=32), "text", "bert"),
    Arch("xlm-roberta", "XLMRobertaConfig", "XLMRobertaModel", dict(TEXT, pad_token_id=1,
                                                                    max_position_embeddings=66), "text", "bert"),
    Arch("gpt2", "GPT2Config", "GPT2Model", dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64),
         "text", "gpt2"),
    Arch("gpt-neo", "GPTNeoConfig", "GPTNeoModel",
         dict(vocab_size=VOCAB, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
              max_position_embeddings=64, attention_types=[[["global", "local"], 1]], window_size=4),
         "text", "gpt2"),
    Arch("llama", "LlamaConfig", "LlamaModel", dict(TEXT, num_key_value_heads=2), "text", ""),
    Arch("gpt-neox", "GPTNeoXConfig", "GPTNeoXModel", dict(TEXT, rotary_pct=0.5), "text", ""),
    Arch("qwen2", "Qwen2Config", "Qwen2Model", dict(TEXT, num_key_value_heads=2), "text", ""),
    Arch("mistral", "MistralConfig", "MistralModel", dict(TEXT, num_key_value_heads=2, sliding_window=4),
         "text", ""),
    Arch("phi", "PhiConfig", "PhiModel", dict(TEXT, partial_rotary_factor=0.5), "text", ""),
    Arch("vit", "ViTConfig", "ViTModel", dict(VISION), "vision", "vit"),
    Arch("deit", "DeiTConfig", "DeiTModel", dict(VISION), "vision", "vit"),
    # ViT-MAE shuffles patches by random noise; the noise is an input here
    # (ViTMAEModel.forward(noise=...)) so both sides mask the same patches.
    Arch("vit-mae", "ViTMAEConfig", "ViTMAEModel", dict(VISION, mask_ratio=0.75), "vision", "vit", optimum=False),
    Arch("clip-text", "CLIPTextConfig", "CLIPTextModel", dict(TEXT), "text", "clip", optimum=False),
    Arch("clip-vision", "CLIPVisionConfig", "CLIPVisionModel", dict(VISION), "vision", "clip"),
]
BY_NAME = {a.name: a for a in ARCHS}

# Input shapes: (batch, sequence) for text, with the number of padded
# positions per row (right padding, attention_mask 0); batch for vision.
TEXT_SHAPES = [(1, 8, [0]), (2, 5, [0, 2]), (3, 11, [4, 0, 7])]
VISION_BATCHES = [1, 2]


def inputs(arch, idx):
    """The feeds of shape number idx: a dict of numpy arrays (every input
    any export of this architecture may declare) and the (batch, seq) mask of
    positions to compare (None: compare everything)."""
    rng = np.random.default_rng(1000 + idx)
    if arch.kind == "vision":
        b = VISION_BATCHES[idx]
        feeds = {"pixel_values": rng.standard_normal((b, 3, 32, 32)).astype(np.float32)}
        if arch.name == "vit-mae":
            feeds["noise"] = rng.random((b, 16)).astype(np.float32)
        return feeds, None
    b, s, pads = TEXT_SHAPES[idx]
    ids = rng.integers(3, VOCAB, size=(b, s), dtype=np.int64)
    mask = np.ones((b, s), dtype=np.int64)
    for r, p in enumerate(pads):
        if p:
            mask[r, s - p:] = 0
            ids[r, s - p:] = arch.pad_id
    if arch.name == "clip-text":
        # CLIP pools at the end-of-text token, the largest id (eos_token_id 2
        # is the legacy argmax rule); put it last in every row.
        for r, p in enumerate(pads):
            ids[r, s - p - 1] = VOCAB - 1
    feeds = {"input_ids": ids, "attention_mask": mask,
             "token_type_ids": np.zeros((b, s), dtype=np.int64),
             "position_ids": np.broadcast_to(np.arange(s, dtype=np.int64), (b, s)).copy()}
    return feeds, mask.astype(bool)


def n_shapes(arch):
    return len(VISION_BATCHES) if arch.kind == "vision" else len(TEXT_SHAPES)
