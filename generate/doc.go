// Package generate decodes text from causal language models: greedy or
// sampled (temperature, top-k, top-p, repetition penalty, seeded), stopping
// on EOS ids, stop strings or a token budget, one prompt streamed or a
// left-padded batch.
//
//	l, _ := generate.Load("gpt2-onnx/", runtime.Options{})
//	g, _ := generate.New(l.Session, tok, generate.Options{MaxNewTokens: 64, EOS: l.EOS, WithPast: l.WithPast})
//	for piece, err := range g.Stream(ctx, "Once upon a time") { ... }
//
// # Layouts
//
// Inputs and outputs are found by name: input_ids, attention_mask,
// position_ids, past_key_values.N.key/value and use_cache_branch in;
// logits and present.N.key/value out. That covers what optimum exports
// for text-generation — a decoder without past (every step reruns the
// sequence), a decoder taking past_key_values (optimum-onnx's default; the
// prompt's step feeds an empty past), decoder_model.onnx +
// decoder_with_past_model.onnx (Options.WithPast), and the merged decoder
// (an If on use_cache_branch) — and zoo.BuildGPT2WithPast and
// zoo.BuildGPT2SharedCache, gort's own GPT-2 graphs with a cache.
//
// # The KV cache
//
// The prompt runs once; each following step feeds only the new token and
// the previous step's present.* tensors as past_key_values.*, so the cache
// is never copied by this package. Token, mask and position buffers are
// allocated once for the longest sequence and fed as tensors over their
// prefixes. Standard exports take a past of exactly past_len positions, so
// their model would copy the cache once per step (Concat of past and new
// keys). A model whose past and present share buffers of the longest
// sequence (the Shared layout: zoo.BuildGPT2SharedCache, attention by
// GroupQueryAttention as ONNX Runtime's past_present_share_buffer) gets the
// cache allocated once per generation and donated at every step
// (runtime.WithDonated): the native runtime writes each step's keys and
// values into it in place, with no copy and no allocation of the cache per
// token, and a failed step leaves its valid positions intact. With the
// cache, every decode step's logits land in one (batch, 1, vocab) tensor
// of the generation bound as the output (runtime.WithOutputs), which the
// native runtime's last matrix product writes directly.
//
// ShareCache turns the standard exports into that layout, and Load does so
// on the native provider: a merged decoder keeps its use_cache_branch
// branch, graphopt fuses each layer's attention into MultiHeadAttention
// with past_key/past_value, and the rewrite makes past and present
// (batch, heads, max_sequence, head_size) buffers, gives every attention
// past_sequence_length = width(attention_mask) − width(input_ids), and has
// every Shape of a past report that length on axis 2, so the export's own
// mask and position arithmetic is unchanged. The decoder with past then
// also runs the prompt (an empty past): for the split layout Load reads
// decoder_with_past_model.onnx only. A model of another form keeps its
// layout (Loaded.NotShared says why; gort generate prints it). ONNX
// Runtime sessions keep the export as it is.
//
// Left padding follows transformers: padded positions are masked and
// position_ids count only kept tokens, so a batch gives each prompt the ids
// it gets alone (a model without position_ids refuses ragged batches).
//
// # Checks
//
// conformance/interop/generate/run.sh builds a tiny GPT-2 with
// transformers, exports it with optimum in every layout, and checks that
// greedy ids equal transformers' generate for each, with and without the
// cache, alone and batched. BenchmarkDecodeGPT2Small compares native and
// ONNX Runtime decoding of a GPT-2-small-shaped graph in one run:
//
//	go test -run '^$' -bench DecodeGPT2Small -benchtime 3x ./generate/
package generate
