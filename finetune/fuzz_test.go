package finetune

import (
	"bytes"
	"testing"
)

// FuzzParseJSONL: untrusted datasets give examples or an error, never a
// panic, for every task.
func FuzzParseJSONL(f *testing.F) {
	for _, s := range []string{
		`{"text": "a b", "label": 1}`, `{"tokens": ["a"], "tags": [0]}`, `{"text": "a", "positive": "b"}`,
		`{"text": "a", "label": -100}`, `{"text": "a", "label": 1e308}`, "\n\n{}\n", `[1, 2]`, `{"tokens": [""], "tags": [1]}`,
	} {
		f.Add([]byte(s))
	}
	tasks := []Task{SeqCls{Labels: 2}, TokenCls{Labels: 3}, Regression{}, Embedding{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, task := range tasks {
			exs, err := ParseJSONL(bytes.NewReader(data), "fuzz.jsonl", task, Fields{})
			if err == nil && len(exs) == 0 {
				t.Fatal("no error and no examples")
			}
			for _, ex := range exs {
				if len(ex.Tags) != len(ex.Words) {
					t.Fatalf("%d tags for %d words", len(ex.Tags), len(ex.Words))
				}
			}
		}
	})
}
