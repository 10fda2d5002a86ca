// Package tokenizer implements the text tokenizers that BERT- and GPT-2-style
// models expect, compatible with Hugging Face `tokenizers`.
//
// # Overview
//
// A Tokenizer is the pipeline Hugging Face describes in tokenizer.json:
//
//	text → added tokens split → normalizer → pre-tokenizer → model → post-processor → Encoding
//
// Load reads a tokenizer.json (WordPiece or BPE models; BERT, NFC/NFD/NFKC/NFKD,
// Lowercase, StripAccents normalizers; BERT, ByteLevel, Whitespace,
// WhitespaceSplit, Punctuation, Digits pre-tokenizers; TemplateProcessing,
// BertProcessing, RobertaProcessing and ByteLevel post-processors; WordPiece,
// ByteLevel, BPEDecoder decoders) and Save writes one back that `tokenizers`
// loads. FromVocabTxt builds BERT's WordPiece tokenizer from a vocab.txt.
// TrainWordPiece and TrainByteLevelBPE learn a vocabulary from a text corpus,
// streaming it, so pretraining from raw text needs no download.
//
// # Offsets
//
// Encoding.Offsets are byte offsets into the original Go string. Hugging Face's
// Python binding reports offsets in characters (code points); CharOffsets
// converts with the same rule it uses.
//
// # Untrusted input
//
// tokenizer.json and vocab.txt files are untrusted: Parse never panics, bounds
// nesting and sizes, and its errors name the offending field.
//
// # Unicode tables
//
// Hugging Face classifies characters with Rust crates whose Unicode versions
// differ from Go's; the classes that matter (BERT control and punctuation
// characters, non-spacing marks) follow the reference, see unicode.go.
package tokenizer
