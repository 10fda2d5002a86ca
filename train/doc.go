// Package train builds and runs training steps on ONNX graphs.
//
// # Overview
//
// A forward model plus a loss piece (CrossEntropy, MSE, BCEWithLogits,
// InBatchContrastive, ...) becomes, through Build, one training-step graph
// in standard ONNX ops: inputs are the batch, the parameters, the optimizer
// state, the learning rate and the step number; outputs are the loss, the
// updated parameters and the updated state. Any provider runs it — the
// native runtime, or ONNX Runtime with no extra code.
//
//	loss := train.CrossEntropy(m, "logits", "labels", -100, 0)
//	st, _ := train.Build(m, train.Config{Loss: loss, Optimizer: train.AdamW(0.01), ClipNorm: 1})
//	tr, _ := train.New(st, train.Options{Schedule: train.WarmupLinear(5e-4, 100, 1000), Seed: 1})
//	res, _ := tr.Step(ctx, batch) // forward, loss, backward, update
//	tr.Save("out", nil)           // checkpoint-<step>/ + LATEST, written atomically
//
// Randomness (dropout) of step k derives from (Seed, k) only, so a run
// resumed from a checkpoint repeats the uninterrupted run bit for bit.
package train
