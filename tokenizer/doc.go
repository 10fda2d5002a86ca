// Package tokenizer implements the text tokenizers BERT-, GPT-2- and
// SentencePiece-style (XLM-RoBERTa, T5, ALBERT) models expect, identical to
// Hugging Face `tokenizers` in ids and offsets, and trains new vocabularies
// from raw text.
//
// # Overview
//
// A Tokenizer is the pipeline a Hugging Face tokenizer.json describes:
//
//	text → added tokens split out → normalizer → pre-tokenizer → model → truncation → post-processor → padding
//
// Load and Parse read tokenizer.json; Save writes one that `tokenizers` loads.
// Supported components:
//
//   - models: WordPiece; BPE (byte-level as GPT-2's, or with
//     continuing_subword_prefix / end_of_word_suffix, unk_token, fuse_unk,
//     byte_fallback, ignore_merges); WordLevel; Unigram (SentencePiece's:
//     Viterbi over the pieces' scores, unk_id, byte_fallback)
//   - normalizers: BertNormalizer (clean_text, handle_chinese_chars,
//     strip_accents, lowercase), NFC, NFD, NFKC, NFKD, Lowercase,
//     StripAccents, Prepend, Replace (string patterns, and regular
//     expressions Go reads as Oniguruma does), Strip, Precompiled
//     (SentencePiece's precompiled_charsmap), Sequence
//   - pre-tokenizers: BertPreTokenizer, ByteLevel (add_prefix_space, GPT-2's
//     pattern), Whitespace, WhitespaceSplit, Punctuation, Digits, Metaspace,
//     Sequence
//   - post-processors: TemplateProcessing, BertProcessing, RobertaProcessing,
//     ByteLevel (trim_offsets), Sequence
//   - decoders: WordPiece, ByteLevel, BPEDecoder, Metaspace, Replace,
//     ByteFallback, Fuse, Strip, Sequence
//   - added tokens (special, single_word, lstrip, rstrip, normalized),
//     truncation (LongestFirst, OnlyFirst, OnlySecond; Left or Right) and
//     padding (BatchLongest or Fixed, Left or Right, pad_to_multiple_of)
//
// Other component types (Split, a Replace whose regular expression Go would
// read differently, ...) fail to load with an error naming them. Truncation
// drops overflowing tokens (no stride windows) and BPE dropout is refused.
// Where Hugging Face fails, gort is lenient: a Unigram model without unk_id
// leaves out a character no piece covers, and an empty precompiled_charsmap
// maps nothing.
//
// FromVocabTxt builds BERT's tokenizer from a vocab.txt as transformers does.
// TrainWordPiece and TrainByteLevelBPE learn vocabularies from a corpus they
// stream (iter.Seq[string]; Lines adapts an io.Reader), keeping only word
// counts, so pretraining from raw text needs no download.
//
// # Offsets
//
// Encoding.Offsets are byte offsets into the sequence a token came from
// (Encoding.SequenceIDs says which; special tokens have (0, 0)). Hugging
// Face's Python binding reports character (code point) offsets; CharOffsets
// converts with its rule. Where Hugging Face works in the offsets' unit
// (trimming spaces from byte-level offsets), gort moves by characters, so
// converted offsets equal the binding's and byte offsets stay on character
// boundaries.
//
// # Parity
//
// conformance/interop/tokenizers/run.sh trains reference tokenizers with
// Hugging Face on a generated corpus and checks gort against them on
// thousands of strings (ids, type ids, offsets, masks, decoding), then loads
// gort-trained and gort-saved tokenizers into Hugging Face. The Unigram
// references include SentencePiece models trained with nmt_nfkc rules and
// converted by transformers as XLM-RoBERTa's and T5's are. Training follows
// Hugging Face's algorithm but breaks ties deterministically; Hugging Face's
// own training is not deterministic (hash order), so vocabularies agree on
// most tokens, not all.
//
// # Unicode tables
//
// Hugging Face classifies characters with Rust crates of several Unicode
// versions; gen_unicode.go holds the classes measured from it (see
// conformance/interop/tokenizers/unicode_tables.py).
//
// # Untrusted input
//
// tokenizer.json and vocab.txt are untrusted: Parse never panics, bounds
// nesting, lengths and ids, and its errors name the offending field, e.g.
// "tokenizer: model: merges[3]: ...".
package tokenizer
