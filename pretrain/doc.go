// Package pretrain pretrains transformers from raw data: masked language
// modeling (BERT, optionally with next-sentence prediction), causal
// language modeling (GPT-2) and masked autoencoding of images (ViT-MAE).
//
// # Overview
//
//	s, err := pretrain.Run(ctx, pretrain.Options{Arch: "bert", Data: "data/tiny-corpus.txt",
//		VocabSize: 400, Steps: 300, Batch: 16, Seq: 32, LR: 5e-3, Out: "out"})
//	fmt.Println(s.FirstLoss, s.LastLoss, s.Baseline, s.After)
//
// The model is a models/zoo graph built from a Hugging Face config.json
// with its loss (BertForMaskedLM, BertForPreTraining, GPT2LMHeadModel,
// ViTMAEForPreTraining); package train turns it into one training-step
// graph (forward, loss, backward, AdamW), which the native runtime or ONNX
// Runtime runs. Everything random is done in Go on the batch and fed to the
// graph: MLM masking (labels with IgnoreIndex −100 elsewhere) and MAE's
// masking noise, both seeded from (seed, step), so a resumed run repeats
// the uninterrupted one exactly.
//
// # Objectives
//
//   - MLM: dynamic masking of 15% of the tokens (80% [MASK], 10% a random
//     token, 10% unchanged), optionally whole words; loss on masked
//     positions only; metrics masked-token accuracy and perplexity. With
//     NSP, examples are sentence pairs whose second segment is a random
//     sentence half of the time, and the pooled output's binary loss is
//     added (BertForPreTraining).
//   - CLM: documents joined with an end-of-text token and cut into blocks
//     (transformers' group_texts); metrics perplexity and next-token
//     accuracy.
//   - MAE: PNG/JPEG images resized (shorter side), center-cropped and
//     normalized with ImageNet statistics; 75% of the patches of each
//     image masked at random (config mask_ratio); normalized-pixel MSE on
//     the masked patches; reconstruction.png shows original, masked and
//     reconstructed images.
//
// # Data
//
// Text files hold documents separated by blank lines, one sentence per
// line; .jsonl files hold one {"text": ...} document per line; a folder is
// read recursively in sorted order. Data streams from disk through a
// seeded shuffle buffer, so corpora larger than memory train; each
// document (or image) goes to the validation split by a hash of (seed,
// index). Evaluation runs every EvalEvery steps on fixed validation
// batches. Without a tokenizer, a WordPiece (BERT) or byte-level BPE
// (GPT-2) vocabulary is trained on the training split first.
//
// data/tiny-corpus.txt (WriteSyntheticCorpus) and data/images
// (WriteSyntheticImages) are original, generated data to learn from.
//
// # Output folder
//
// config.json (Hugging Face form), tokenizer.json, model.safetensors
// (state_dict names, loadable by transformers), checkpoint-<step>/ with
// optimizer state and LATEST (see package train), metrics.jsonl (one JSON
// object per step: step, loss, lr, grad_norm, elapsed_s, tokens_per_s or
// images_per_s, and eval_* fields at evaluation steps), loss.png,
// model.onnx (the inference graph with the trained weights) and, for MAE,
// reconstruction.png. FillMask predicts masked words from such a folder.
package pretrain
