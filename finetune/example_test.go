package finetune_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/gort-ml/gort/finetune"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/tokenizer"
)

// Fine-tune a BERT-style ONNX export (here one built in Go; in practice
// onnx.Load("model.onnx") of a Hugging Face export) to tell "yes" sentences
// from "no" sentences, with LoRA adapters on the attention projections.
func Example() {
	cfg := tiny.TinyBERT
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositions = 16, 32, 64, 16
	backbone, err := tiny.BERT(cfg) // inputs input_ids, attention_mask, token_type_ids; outputs last_hidden_state, pooler_output
	if err != nil {
		panic(err)
	}
	tok, err := tokenizer.ParseVocabTxt(strings.NewReader("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nyes\nno\nmaybe\n"), true)
	if err != nil {
		panic(err)
	}
	var data []finetune.Example
	for i := range 64 {
		word, label := "no", 0
		if i%2 == 0 {
			word, label = "yes", 1
		}
		data = append(data, finetune.Example{Text: strings.Repeat("maybe ", i%3) + word, Label: label})
	}

	m, err := finetune.New(backbone, finetune.SeqCls{Labels: 2}, finetune.LoRA(4, 8), finetune.Seed(1))
	if err != nil {
		panic(err)
	}
	defer m.Close()
	enc := &finetune.Encoder{Tok: tok, MaxLen: 16}
	rep, err := m.Fit(context.Background(), data, data, finetune.FitOptions{Encoder: enc, Epochs: 8, Batch: 8, LR: 1e-2})
	if err != nil {
		panic(err)
	}
	fmt.Printf("adapters on %d projections; trainable: %d tensors\n", len(m.Adapters()), len(m.Trainable()))
	fmt.Printf("accuracy %.2f\n", rep.Best["eval_accuracy"])

	// The inference graph has the adapters merged into the weights: save it
	// with onnx.Save, or write the whole folder with FitOptions.Out and use
	// `gort export`.
	inf, err := m.Inference()
	if err != nil {
		panic(err)
	}
	fmt.Println("output:", inf.Graph.Outputs[0].Name)
	// Output:
	// adapters on 8 projections; trainable: 18 tensors
	// accuracy 1.00
	// output: logits
}
