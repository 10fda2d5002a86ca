package generate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
)

// refs is refs.json written by conformance/interop/generate/make_refs.py.
type refs struct {
	EOS          int `json:"eos"`
	MaxNewTokens int `json:"max_new_tokens"`
	Prompts      []struct {
		Prompt   string `json:"prompt"`
		InputIDs []int  `json:"input_ids"`
		Cache    []int  `json:"cache"`
		NoCache  []int  `json:"nocache"`
	} `json:"prompts"`
	Batch struct {
		InputIDs      [][]int `json:"input_ids"`
		AttentionMask [][]int `json:"attention_mask"`
		New           [][]int `json:"new"`
	} `json:"batch"`
}

func loadRefs(t *testing.T) (string, *refs) {
	t.Helper()
	dir := os.Getenv("GORT_GENERATE_REFS")
	if dir == "" {
		t.Skip("GORT_GENERATE_REFS is unset; write references with conformance/interop/generate/run.sh (make_refs.py OUT) and point it at OUT")
	}
	data, err := os.ReadFile(filepath.Join(dir, "refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := &refs{}
	if err := json.Unmarshal(data, r); err != nil {
		t.Fatal(err)
	}
	return dir, r
}

// untilEOS cuts transformers' ids after the first EOS (it pads finished
// rows with EOS up to max_new_tokens).
func untilEOS(ids []int, eos int) []int {
	if i := slices.Index(ids, eos); i >= 0 {
		return ids[:i+1]
	}
	return ids
}

func session(t *testing.T, path string) *runtime.Session {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loaded opens path with Load (native provider).
func loaded(path string) func(t *testing.T) (*runtime.Session, *runtime.Session) {
	return func(t *testing.T) (*runtime.Session, *runtime.Session) {
		t.Helper()
		l, err := Load(path, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if l.NotShared != "" || l.WithPast != nil {
			t.Fatalf("Load kept the cache unshared: %s", l.NotShared)
		}
		checkInPlace(t, l.Session, []int{1, 2, 3})
		return l.Session, nil
	}
}

// zooSession builds the zoo GPT-2 of dir's config (build: nil for the
// full-sequence graph) and loads dir's weights.
func zooSession(t *testing.T, dir string, build func(*zoo.Config, zoo.BuildOptions) (*zoo.Model, error)) *runtime.Session {
	t.Helper()
	cfg, err := zoo.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m *zoo.Model
	if build != nil {
		m, err = build(cfg, zoo.BuildOptions{})
	} else {
		m, err = zoo.Build(cfg, "GPT2LMHeadModel", zoo.BuildOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := zoo.LoadWeights(m, dir); err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Greedy ids equal transformers' generate for every layout, with and
// without the cache, one prompt at a time and as a left-padded batch.
func TestGreedyMatchesTransformers(t *testing.T) {
	dir, r := loadRefs(t)
	cases := []struct {
		name    string
		layout  Layout
		open    func(t *testing.T) (*runtime.Session, *runtime.Session)
		noCache bool // the layout has no cache
	}{
		{"zoo", WithPast, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return zooSession(t, filepath.Join(dir, "model"), zoo.BuildGPT2WithPast), nil
		}, false},
		{"zoo-shared", Shared, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return zooSession(t, filepath.Join(dir, "model"), zoo.BuildGPT2SharedCache), nil
		}, false},
		{"zoo-nopast", NoPast, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return zooSession(t, filepath.Join(dir, "model"), nil), nil
		}, true},
		{"optimum-nopast", NoPast, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return session(t, filepath.Join(dir, "onnx-nopast", "model.onnx")), nil
		}, true},
		{"optimum-withpast", WithPast, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return session(t, filepath.Join(dir, "onnx-withpast", "model.onnx")), nil
		}, false},
		{"optimum-split", Split, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return session(t, filepath.Join(dir, "onnx-split", "decoder_model.onnx")),
				session(t, filepath.Join(dir, "onnx-split", "decoder_with_past_model.onnx"))
		}, false},
		{"optimum-merged", Merged, func(t *testing.T) (*runtime.Session, *runtime.Session) {
			return session(t, filepath.Join(dir, "onnx-merged", "decoder_model_merged.onnx")), nil
		}, false},
		// Load's native path: ShareCache makes every layout with past a
		// shared cache written in place.
		{"load-withpast", Shared, loaded(filepath.Join(dir, "onnx-withpast")), false},
		{"load-split", Shared, loaded(filepath.Join(dir, "onnx-split")), false},
		{"load-merged", Shared, loaded(filepath.Join(dir, "onnx-merged")), false},
		{"load-checkpoint", Shared, loaded(filepath.Join(dir, "model")), false},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, withPast := c.open(t)
			for _, noCache := range []bool{false, true} {
				if c.noCache && !noCache {
					continue
				}
				opts := Options{MaxNewTokens: r.MaxNewTokens, EOS: []int{r.EOS}, NoCache: noCache, WithPast: withPast}
				g, err := New(s, nil, opts)
				if err != nil {
					t.Fatal(err)
				}
				if g.Layout() != c.layout {
					t.Fatalf("layout %v, want %v", g.Layout(), c.layout)
				}
				for _, p := range r.Prompts {
					want := untilEOS(p.Cache, r.EOS)
					if noCache {
						want = untilEOS(p.NoCache, r.EOS)
					}
					got, err := g.GenerateIDs(ctx, [][]int{p.InputIDs})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got[0], want) {
						t.Errorf("no cache %v, %q:\n got  %v\n want %v", noCache, p.Prompt, got[0], want)
					}
				}
				var prompts [][]int
				for i, row := range r.Batch.InputIDs {
					var p []int
					for j, id := range row {
						if r.Batch.AttentionMask[i][j] == 1 {
							p = append(p, id)
						}
					}
					prompts = append(prompts, p)
				}
				got, err := g.GenerateIDs(ctx, prompts)
				if c.name == "zoo-nopast" {
					// GPT2LMHeadModel's full graph numbers positions 0..S−1.
					if err == nil {
						t.Error("a left-padded batch ran on a model without position_ids")
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for i := range prompts {
					if want := untilEOS(r.Batch.New[i], r.EOS); !slices.Equal(got[i], want) {
						t.Errorf("no cache %v, batch row %d:\n got  %v\n want %v", noCache, i, got[i], want)
					}
				}
			}
		})
	}
}
