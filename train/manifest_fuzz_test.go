package train

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzManifest resumes from a checkpoint folder whose LATEST file and
// trainer.json are arbitrary bytes (the safetensors files are a valid
// checkpoint of the MLP): Resume must return an error or a manifest whose
// step the trainer took over, never panic.
func FuzzManifest(f *testing.F) {
	m, loss := mlp(3)
	st, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01)})
	if err != nil {
		f.Fatal(err)
	}
	tr, err := New(st, Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer tr.Close()
	src := f.TempDir()
	ck, err := tr.Save(src, map[string]any{"epoch": 1})
	if err != nil {
		f.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(ck, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	model, optim, manifest := read("model.safetensors"), read("optimizer.safetensors"), read("trainer.json")
	f.Add([]byte("checkpoint-0\n"), manifest)
	f.Add([]byte("checkpoint-0"), []byte(`{"format":"gort-checkpoint","version":1,"step":-5,"optimizer":"adamw"}`))
	f.Add([]byte("checkpoint-0"), []byte(`{"format":"gort-checkpoint","version":1,"step":9223372036854775807,"seed":18446744073709551615,"optimizer":"adamw","extra":{"a":[1,{"b":null}]}}`))
	f.Add([]byte("checkpoint-0"), []byte(`{"format":"gort-checkpoint","version":2}`))
	f.Add([]byte("checkpoint-0"), []byte(`{"step":"3"}`))
	f.Add([]byte("../checkpoint-0"), manifest)
	f.Add([]byte(".."), manifest)
	f.Add([]byte(""), manifest)
	f.Fuzz(func(t *testing.T, latest, manifest []byte) {
		dir := t.TempDir()
		ck := filepath.Join(dir, "checkpoint-0")
		for name, data := range map[string][]byte{"model.safetensors": model, "optimizer.safetensors": optim, "trainer.json": manifest} {
			if err := os.MkdirAll(ck, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ck, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, LatestFile), latest, 0o644); err != nil {
			t.Fatal(err)
		}
		man, err := tr.Resume(dir)
		if err != nil {
			return
		}
		if man.Step < 0 || tr.Steps() != man.Step {
			t.Fatalf("resumed at step %d from a manifest of step %d", tr.Steps(), man.Step)
		}
	})
}
