package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzTokenizerJSON: Parse must never panic on garbage, and whatever it
// accepts must encode, decode and save without panicking.
func FuzzTokenizerJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "ByteLevel", "add_prefix_space": true}]}}`))
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1}, "max_input_chars_per_word": -1}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}, "added_tokens": [{"id": 5, "content": "a", "normalized": true, "lstrip": true, "rstrip": true, "single_word": true}]}`))
	f.Add([]byte(`{"model": {"vocab": {}}, "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "B", "type_id": 9}}], "pair": [], "special_tokens": {}}}`))
	f.Add([]byte(`{"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}, {"type": "Strip"}]}, "pre_tokenizer": {"type": "Metaspace", "prepend_scheme": "first"}, "model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>", "vocab": {"<unk>": 0, "<0x41>": 1, "▁": 2, "a": 3}, "merges": []}, "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 9}]}}`))
	f.Add([]byte(`{"model": {"type": "Unigram", "unk_id": 0, "byte_fallback": true, "vocab": [["<unk>", 0.0], ["▁a", -1.5], ["b", -2], ["<0x41>", -9], ["<0xC3>", -9], ["<0xA9>", -9], ["ab", -1e300]]}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "Precompiled", "precompiled_charsmap": "CAAAAAAEAABhAQAAeHkA"}, {"type": "Strip", "strip_left": false, "strip_right": true}, {"type": "Replace", "pattern": {"Regex": " {2,}|\\A\t+"}, "content": "▁"}]}, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}, "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}}`))
	f.Add([]byte(`{"model": {"type": "Unigram", "unk_id": null, "vocab": [["a", 0], ["a", -1], ["", -2]]}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "/////w=="}}`))
	f.Add([]byte(`{"model": {"type": "Unigram", "unk_id": 3, "vocab": [["a", 0]]}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "a b", "Héllo, 世界! 😀 ab\t\n x", "[UNK]<|endoftext|>ab"} {
			e, err := tk.EncodeWith(s, s, true, true)
			if err != nil {
				continue
			}
			_ = tk.Decode(e.IDs, true)
			_ = tk.Decode(e.IDs, false)
			_ = tk.Encode(s)
		}
		if _, err := tk.EncodeBatch([]string{"a", "b c"}, BatchOptions{}); err != nil {
			_ = err
		}
		out, err := tk.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed tokenizer: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("saved tokenizer does not parse: %v\n%s", err, out)
		}
	})
}

// FuzzEncode: any text, valid UTF-8 or not, encodes without panicking, with
// offsets inside the text on character boundaries.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello, World!", "Café naïve 中文 😀", "a\x00b\u200b \t\n", "e\u0301\u0323q\u0307\u0323", "\xff\xfe", "[MASK]<|endoftext|>", "İstanbul ǅ ﬁ ½", "\vＡ\u0301  ａ\u0301\r\n\u0600x<s>"} {
		f.Add(s)
	}
	toks := []*Tokenizer{load(f, "bert-tiny.json"), load(f, "bpe-tiny.json"), load(f, "unigram-tiny.json")}
	nfkc := load(f, "bert-tiny.json")
	nfkc.Normalizer = NormalizerSequence{NFKC{}, NFD{}, StripAccents{}, NFC{}, Lowercase{}}
	nfkc.PreTokenizer = PreTokenizerSequence{Whitespace{}, Punctuation{Behavior: Contiguous}, Digits{IndividualDigits: true}}
	toks = append(toks, nfkc)
	for _, tk := range toks {
		tk.Truncation, tk.Padding = nil, nil
	}
	f.Fuzz(func(t *testing.T, text string) {
		// Character boundaries, reading invalid UTF-8 a byte at a time.
		boundary := make([]bool, len(text)+1)
		for i := 0; i < len(text); {
			boundary[i] = true
			_, w := utf8.DecodeRuneInString(text[i:])
			i += w
		}
		boundary[len(text)] = true
		for _, tk := range toks {
			e, err := tk.EncodeWith(text, text, true, true)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range e.Offsets {
				if o[0] < 0 || o[0] > o[1] || o[1] > len(text) {
					t.Fatalf("token %d %q: offsets %v outside [0, %d]", i, e.Tokens[i], o, len(text))
				}
				if !boundary[o[0]] || !boundary[o[1]] {
					t.Fatalf("token %d %q: offsets %v not on character boundaries of %q", i, e.Tokens[i], o, text)
				}
			}
			_ = tk.Decode(e.IDs, false)
		}
	})
}

// FuzzPrecompiled: any precompiled_charsmap either fails to decode or
// normalizes any text without panicking, every character aligned inside the
// text.
func FuzzPrecompiled(f *testing.F) {
	tk := load(f, "unigram-tiny.json")
	charsmap := tk.Normalizer.(NormalizerSequence)[0].(*Precompiled).Charsmap
	for _, s := range []string{"ＡＢａｂ１ ﬁne ½ Ⅻ", "e\u0301 A\u030a ａ\u0301 x\v", "\v\va\x7f", ""} {
		f.Add(charsmap, s)
		f.Add(charsmap[:len(charsmap)/2], s)
	}
	f.Add([]byte{8, 0, 0, 0, 0, 4, 0, 0, 0x61, 1, 0, 0, 'x', 'y', 0}, "abc")
	f.Fuzz(func(t *testing.T, blob []byte, text string) {
		p, err := NewPrecompiled(blob)
		if err != nil {
			return
		}
		sc := new(scratch)
		n := p.normalize(fromString(text, 0, sc), sc)
		for i, a := range n.align {
			if a[0] < 0 || a[0] > a[1] || a[1] > len(text) {
				t.Fatalf("character %d %q aligned to %v outside [0, %d]", i, n.runes[i], a, len(text))
			}
		}
	})
}
