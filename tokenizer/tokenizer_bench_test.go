package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// benchText is about 64 KB of mostly English text with some accents, CJK and
// emoji, and the BERT and byte-level tokenizers trained on it.
func benchSetup(b *testing.B) (string, *Tokenizer, *Tokenizer) {
	b.Helper()
	words := strings.Fields("the of and to in is was for that on with as by at from his her are were be this which an or had " +
		"not but have it they you their one all also has been would there who more when time new first can other into " +
		"University National Government café naïve Zürich 中文 北京 😀 don't it's 1,234 3.14 (see) \"quoted\" e-mail")
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	var lines []string
	for sb.Len() < 64<<10 {
		var l strings.Builder
		for range 12 {
			l.WriteString(words[rng.IntN(len(words))])
			l.WriteByte(' ')
		}
		lines = append(lines, l.String())
		sb.WriteString(l.String())
		sb.WriteByte('\n')
	}
	wp, err := TrainWordPiece(slices.Values(lines), WordPieceOptions{VocabSize: 500, Lowercase: true})
	if err != nil {
		b.Fatal(err)
	}
	bpe, err := TrainByteLevelBPE(slices.Values(lines), BPEOptions{VocabSize: 600})
	if err != nil {
		b.Fatal(err)
	}
	wp.Truncation, bpe.Truncation = nil, nil
	return sb.String(), wp, bpe
}

func benchEncode(b *testing.B, tk *Tokenizer, text string) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Encode(text)
	}
}

func BenchmarkEncodeBERT64K(b *testing.B) {
	text, wp, _ := benchSetup(b)
	benchEncode(b, wp, text)
}

func BenchmarkEncodeByteLevelBPE64K(b *testing.B) {
	text, _, bpe := benchSetup(b)
	benchEncode(b, bpe, text)
}

func BenchmarkEncodeBERTSentence(b *testing.B) {
	_, wp, _ := benchSetup(b)
	benchEncode(b, wp, "The University of Zürich's café, naïvely: don't 1,234 emails (see 中文).")
}

// BenchmarkEncodeUnigram64K encodes the 64 KB text with the XLM-R-style
// tokenizer of testdata (Precompiled charsmap, regex Replace, Metaspace,
// Unigram).
func BenchmarkEncodeUnigram64K(b *testing.B) {
	text, _, _ := benchSetup(b)
	tk := load(b, "unigram-tiny.json")
	benchEncode(b, tk, text)
}
