// Package finetune trains imported inference graphs (Hugging Face ONNX
// exports, gort zoo graphs) on labelled tasks.
//
// # Overview
//
// New finds the backbone's hidden-state output (last_hidden_state, or the
// one HiddenOutput names) and attaches a task head as new initializers and
// nodes, with Hugging Face names:
//
//   - SeqCls: linear classifier (classifier.weight/bias) on the pooled
//     vector: the pooler output, the first token or the masked mean
//     (Pooling), cross-entropy; BertForSequenceClassification's head.
//   - Regression: the same head with one output and mean squared error.
//   - TokenCls: a classifier on every token; words' first tokens carry the
//     labels, other pieces -100.
//   - Embedding: masked mean pooling ("sentence_embedding") trained with
//     sentence-transformers' in-batch contrastive loss on (anchor, positive)
//     pairs.
//
// Dropout (HeadDropout, 0.1) precedes the head in training only. Three
// training modes: full fine-tuning (every weight, including the
// exporter-named MatMul weights "onnx::MatMul_N"), FreezeBackbone (only the
// head; backbone parameters keep their bits), and LoRA(r, alpha): on each
// attention projection MatMul(x, W) or MatMul(x, Wᵀ) the graph computes
// x·W + (alpha/r)·x·A·B with A (in, r) Kaiming-uniform and B (r, out) zero,
// and only A, B and the head train. Inference merges the adapters into the
// weights, W' = W + (alpha/r)·A·B in W's layout, and drops their nodes.
//
// The training step is a train.Step (standard ONNX ops); Step trains on a
// batch, Fit runs epochs over JSONL examples (ReadJSONL, Encoder) with
// evaluation (accuracy and macro-F1, MSE, or retrieval accuracy for
// embeddings), early stopping and best-model keeping, writing an --out
// folder: model.onnx (best inference graph), best/params.safetensors,
// checkpoint-<step>/ + LATEST, metrics.jsonl and finetune.json. Load
// rebuilds a folder's model; package export turns it into ONNX, Hugging
// Face files or the training graph.
//
//	bb, _ := onnx.Load("bert/model.onnx")
//	m, _ := finetune.New(bb, finetune.SeqCls{Labels: 2}, finetune.LoRA(8, 16))
//	rep, _ := m.Fit(ctx, train, dev, finetune.FitOptions{Encoder: &finetune.Encoder{Tok: tok}, Epochs: 3, Out: "run"})
//	inf, _ := m.Inference() // LoRA merged, no dropout: logits
package finetune
