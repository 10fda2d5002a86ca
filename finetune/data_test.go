package finetune

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

func TestParseJSONLErrorsNameLine(t *testing.T) {
	long := `{"text": "` + strings.Repeat("a", MaxLineBytes) + `", "label": 0}`
	cases := []struct {
		name, data string
		task       Task
		want       string
	}{
		{"not json", "{\"text\": \"a\", \"label\": 0}\n\nnope\n", SeqCls{Labels: 2}, "train.jsonl:3: not a JSON object"},
		{"missing label", `{"text": "a"}`, SeqCls{Labels: 2}, `train.jsonl:1: missing field "label"`},
		{"class out of range", `{"text": "a", "label": 2}`, SeqCls{Labels: 2}, `train.jsonl:1: field "label": class 2 is not an integer in [0, 2)`},
		{"name without names", `{"text": "a", "label": "pos"}`, SeqCls{Labels: 2}, `label "pos" is a name; give the names`},
		{"tag name without names", `{"tokens": ["a"], "tags": ["B-PER"]}`, TokenCls{Labels: 2}, `label 0: label "B-PER" is a name`},
		{"label object", `{"text": "a", "label": {"x": 1}}`, SeqCls{Labels: 2}, `neither a class id nor a name`},
		{"fractional class", `{"text": "a", "label": 0.5}`, SeqCls{Labels: 2}, "class 0.5 is not an integer"},
		{"text not string", `{"text": 3, "label": 1}`, SeqCls{Labels: 2}, `field "text" is not a string`},
		{"long line", long, SeqCls{Labels: 2}, "train.jsonl:1: line longer than"},
		{"tags length", `{"tokens": ["a", "b"], "tags": [0]}`, TokenCls{Labels: 2}, "1 labels for 2 words"},
		{"word with space", `{"tokens": ["a b"], "tags": [0]}`, TokenCls{Labels: 2}, "empty or holds spaces"},
		{"no positive", `{"text": "a"}`, Embedding{}, `missing field "positive"`},
		{"empty", "\n\n", SeqCls{Labels: 2}, "train.jsonl: no examples"},
		{"regression string", `{"text": "a", "label": "x"}`, Regression{}, `field "label" is not a number`},
	}
	for _, c := range cases {
		_, err := ParseJSONL(strings.NewReader(c.data), "train.jsonl", c.task, Fields{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestLabelNames(t *testing.T) {
	f := Fields{LabelNames: []string{"neg", "pos"}}
	exs, err := ParseJSONL(strings.NewReader(`{"text": "a", "label": "pos"}`+"\n"+`{"text": "b", "label": 0}`), "d", SeqCls{Labels: 2}, f)
	if err != nil {
		t.Fatal(err)
	}
	if exs[0].Label != 1 || exs[1].Label != 0 {
		t.Fatalf("%+v", exs)
	}
	if _, err := ParseJSONL(strings.NewReader(`{"text": "a", "label": "mid"}`), "d", SeqCls{Labels: 2}, f); err == nil || !strings.Contains(err.Error(), `"mid" is not one of [neg pos]`) {
		t.Fatalf("error %v", err)
	}
}

func TestParseJSONL(t *testing.T) {
	exs, err := ParseJSONL(strings.NewReader("{\"sentence\": \"x y\", \"y\": 1, \"extra\": [1]}\r\n{\"sentence\": \"z\", \"y\": -100}"), "d", SeqCls{Labels: 2}, Fields{Text: "sentence", Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 || exs[0].Text != "x y" || exs[0].Label != 1 || exs[1].Label != -100 {
		t.Fatalf("%+v", exs)
	}
}

// Token labels go to each word's first token; other pieces, special
// tokens and padding get -100.
func TestTokenLabelAlignment(t *testing.T) {
	tok, err := tokenizer.ParseVocabTxt(strings.NewReader("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nplay\n##ing\nnow\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	exs, err := ParseJSONL(strings.NewReader(`{"tokens": ["playing", "now"], "tags": [1, 2]}`+"\n"+`{"tokens": ["now"], "tags": [0]}`), "d", TokenCls{Labels: 3}, Fields{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&Encoder{Tok: tok, Inputs: []string{"input_ids", "attention_mask"}}).Encode(TokenCls{Labels: 3}, exs)
	if err != nil {
		t.Fatal(err)
	}
	// [CLS] play ##ing now [SEP] / [CLS] now [SEP] [PAD] [PAD]
	want := []int64{-100, 1, -100, 2, -100, -100, 0, -100, -100, -100}
	got := tensor.Data[int64](b[InputLabels])
	if len(got) != len(want) {
		t.Fatalf("labels %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("labels %v, want %v (ids %v)", got, want, tensor.Data[int64](b["input_ids"]))
		}
	}
	if _, ok := b["token_type_ids"]; ok {
		t.Fatal("token_type_ids fed to a model without that input")
	}
}

// Macro F1 against hand-computed values (sklearn's f1_score average="macro").
func TestAccuracyF1(t *testing.T) {
	// class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 2, fp 0, fn 1 -> 0.8; class 2: tp 1, fp 1, fn 0 -> 2/3
	acc, f1 := accuracyF1([]int{0, 0, 1, 1, 2, 2}, []int{0, 1, 1, 1, 0, 2}, 3)
	want := (0.5 + 0.8 + 2.0/3) / 3
	if acc != 4.0/6 || f1 < want-1e-12 || f1 > want+1e-12 {
		t.Fatalf("accuracy %v, f1 %v; want 0.6667, %v", acc, f1, want)
	}
}

// With a learning rate too small to change the predictions, the
// evaluation never improves and patience 1 stops the run after epoch 2;
// the best model stays the first epoch's.
func TestEarlyStopping(t *testing.T) {
	tok, err := tokenizer.ParseVocabTxt(strings.NewReader("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nyes\nno\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(tinyBERT(t), SeqCls{Labels: 2}, FreezeBackbone())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data := []Example{{Text: "yes", Label: 1}, {Text: "no", Label: 0}, {Text: "yes no", Label: 1}, {Text: "no no", Label: 0}}
	out := t.TempDir()
	rep, err := m.Fit(context.Background(), data, data, FitOptions{Encoder: &Encoder{Tok: tok}, Epochs: 5, Batch: 2, LR: 1e-12, Patience: 1, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Stopped || rep.Epochs != 2 || rep.BestStep != 2 {
		t.Fatalf("stopped %v after %d epochs, best step %d; want stopped after 2, best step 2", rep.Stopped, rep.Epochs, rep.BestStep)
	}
	mf, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if mf.BestStep != 2 || mf.Best["eval_accuracy"] != rep.Best["eval_accuracy"] {
		t.Fatalf("finetune.json best step %d, metrics %v", mf.BestStep, mf.Best)
	}
}

// Stopping after epoch 1 and resuming repeats the uninterrupted run bit
// for bit (data order, schedule, dropout seeds, optimizer state).
func TestResumeRepeatsTheRun(t *testing.T) {
	tok, err := tokenizer.ParseVocabTxt(strings.NewReader("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nyes\nno\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	data := []Example{{Text: "yes", Label: 1}, {Text: "no", Label: 0}, {Text: "yes no", Label: 1}, {Text: "no no", Label: 0}, {Text: "no yes yes", Label: 1}}
	fit := func(out string, interrupt, resume bool) map[string][]float32 {
		m, err := New(tinyBERT(t), SeqCls{Labels: 2}, LoRA(2, 2))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var progress io.Writer
		if interrupt {
			progress = cancelOnNewline(cancel) // the end of epoch 1
		}
		_, err = m.Fit(ctx, data, data[:2], FitOptions{Encoder: &Encoder{Tok: tok}, Epochs: 3, Batch: 2, LR: 1e-2, Out: out, Resume: resume, Seed: 3, Progress: progress})
		if err != nil && !(interrupt && errors.Is(err, context.Canceled)) {
			t.Fatal(err)
		}
		return snapshot(m)
	}
	want := fit(t.TempDir(), false, false)
	out := t.TempDir()
	fit(out, true, false)
	got := fit(out, false, true)
	if ch := changed(want, got); len(ch) > 0 {
		t.Fatalf("resumed run differs in %v", ch)
	}
}

type cancelOnNewline context.CancelFunc

func (c cancelOnNewline) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "\n") {
		c()
	}
	return len(p), nil
}
