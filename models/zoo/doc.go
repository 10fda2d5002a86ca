// Package zoo builds ONNX graphs of Hugging Face transformers models from
// their config.json, with parameters named exactly as the transformers
// state_dict names them, so checkpoints map 1:1 in both directions.
//
// # Overview
//
//	cfg, _ := zoo.LoadConfig("bert-base-uncased/config.json")
//	m, _ := zoo.Build(cfg, "BertForMaskedLM", zoo.BuildOptions{Loss: true})
//	_ = zoo.LoadWeights(m, "bert-base-uncased")       // model.safetensors or a sharded index
//	s, _ := runtime.NewSession(m.IR, runtime.Options{}) // inputs m.Inputs, outputs m.Outputs
//	...
//	_ = zoo.SavePretrained(m, "out")                 // config.json + model.safetensors
//
// Supported classes: BertModel, BertForMaskedLM, BertForPreTraining,
// BertForSequenceClassification, GPT2Model, GPT2LMHeadModel, ViTModel,
// ViTForImageClassification, ViTMAEModel and ViTMAEForPreTraining.
//
// # Graphs
//
// Graphs use standard ai.onnx ops that have gradient rules in package
// autodiff (MatMul, Gemm, Add, LayerNormalization, Softmax, Gather,
// Reshape, Transpose, Erf/Tanh GELU or Gelu from opset 20, Conv,
// GatherElements, Dropout, SoftmaxCrossEntropyLoss, ...), so a forward
// graph with BuildOptions.Loss becomes a training step through package
// train. nn.Linear weights stay (out, in) and enter the graph through a
// Transpose (or Gemm's transB); GPT-2's Conv1D weights stay (in, out).
// Tied weights are one initializer: the MLM decoder and GPT-2's lm_head
// read the word embeddings (Model.Tied lists the aliases). Sequence and
// batch sizes are symbolic; GPT-2's causal mask is built from the input's
// shape, so any length up to n_positions runs. ViT-MAE takes its masking
// noise as an input, as transformers' forward(noise=...) does, so the
// graph is deterministic given its inputs.
//
// # Untrusted configs
//
// ParseConfig checks every size before any product is formed, refuses
// heads that do not divide the width, unknown activations and model
// types, and configs describing more than DefaultMaxParams parameters
// (counted without building, see Config.ParamCount).
//
// # Checkpoints
//
// LoadWeights reads model.safetensors or a sharded
// model.safetensors.index.json (shard names confined to the folder),
// accepts names with or without the base-model prefix, skips known buffers
// and tied aliases, converts float16/bfloat16 to float32, and reports every
// missing, unexpected or mis-shaped tensor in one error. SaveWeights writes
// what save_pretrained writes: state_dict names, tied weights once,
// metadata format=pt, shards plus an index above a size.
package zoo
