package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
)

// Loaded is a decoder found on disk, ready for New.
type Loaded struct {
	Session  *runtime.Session
	WithPast *runtime.Session // set for the split layout; pass as Options.WithPast
	Dir      string           // the folder holding the model (tokenizer.json, config.json)
	// EOS are the config's eos_token_id (generation_config.json first),
	// empty when neither file gives one.
	EOS []int
	// Files names what was loaded, for messages.
	Files []string
	// NotShared says why the native runtime does not write this model's
	// KV cache in place (ShareCache's error), when it does not; empty
	// otherwise, and for other providers.
	NotShared string
}

// Close closes the sessions.
func (l *Loaded) Close() error {
	err := l.Session.Close()
	if l.WithPast != nil {
		err = errors.Join(err, l.WithPast.Close())
	}
	return err
}

// Load opens a decoder from path: an .onnx file (decoder_model.onnx next
// to a decoder_with_past_model.onnx is the split layout), or a folder with
// decoder_model_merged.onnx, decoder_model.onnx + decoder_with_past_model.onnx,
// model.onnx, or a Hugging Face GPT-2 checkpoint (config.json +
// model.safetensors), built as zoo's GPT-2 with past.
//
// On the native provider (opts.Provider nil or native, optimizer on) a
// decoder with past goes through ShareCache, so that its cache is
// preallocated and written in place (the Shared layout): for the split
// layout only decoder_with_past_model.onnx is loaded, which also serves
// the prompt, and a checkpoint is built as zoo.BuildGPT2SharedCache. A
// model ShareCache does not understand keeps its own layout (NotShared
// says why).
func Load(path string, opts runtime.Options) (*Loaded, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Dir: path}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(l.Dir, name))
		return err == nil
	}
	var first, second string
	switch {
	case !st.IsDir():
		l.Dir = filepath.Dir(path)
		first = path
		if filepath.Base(path) == "decoder_model.onnx" && exists("decoder_with_past_model.onnx") {
			second = filepath.Join(l.Dir, "decoder_with_past_model.onnx")
		}
	case exists("decoder_model_merged.onnx"):
		first = filepath.Join(path, "decoder_model_merged.onnx")
	case exists("decoder_model.onnx") && exists("decoder_with_past_model.onnx"):
		first, second = filepath.Join(path, "decoder_model.onnx"), filepath.Join(path, "decoder_with_past_model.onnx")
	case exists("model.onnx"):
		first = filepath.Join(path, "model.onnx")
	case exists("config.json") && (exists(zoo.WeightsFile) || exists(zoo.IndexFile)):
	default:
		return nil, fmt.Errorf("generate: %s holds no decoder_model_merged.onnx, decoder_model.onnx + decoder_with_past_model.onnx, model.onnx, or config.json + %s", path, zoo.WeightsFile)
	}
	l.EOS = readEOS(l.Dir)
	share := (opts.Provider == nil || opts.Provider.Name() == "native") && !opts.NoOptimize
	if first == "" {
		m, err := zooWithPast(path, share)
		if err != nil {
			return nil, err
		}
		l.Files = []string{filepath.Join(path, "config.json"), path}
		l.Session, err = runtime.NewSession(m, opts)
		return l, err
	}
	// Each file is read once: a model ShareCache refuses opens as it is.
	models := map[string]*ir.Model{}
	read := func(path string) (*ir.Model, error) {
		if m := models[path]; m != nil {
			return m, nil
		}
		m, err := onnx.Load(path)
		models[path] = m
		return m, err
	}
	open := func(path string) (*runtime.Session, error) {
		m, err := read(path)
		if err != nil {
			return nil, err
		}
		return runtime.NewSession(m, opts)
	}
	if share {
		// With a cache, the decoder with past serves the prompt too (an
		// empty past).
		path := first
		if second != "" {
			path = second
		}
		m, err := read(path)
		if err != nil {
			return nil, err
		}
		sm, err := ShareCache(m)
		switch {
		case err == nil:
			if l.Session, err = runtime.NewSession(sm, opts); err != nil {
				return nil, err
			}
			l.Files = []string{path}
			return l, nil
		case !errors.Is(err, ErrNotShareable):
			return nil, fmt.Errorf("%s: %w", path, err)
		case takesPast(m.Graph): // else there is no cache to share
			l.NotShared = fmt.Sprintf("%s: %v", filepath.Base(path), err)
		}
	}
	if l.Session, err = open(first); err != nil {
		return nil, err
	}
	l.Files = append(l.Files, first)
	if second != "" {
		if l.WithPast, err = open(second); err != nil {
			l.Session.Close()
			return nil, err
		}
		l.Files = append(l.Files, second)
	}
	return l, nil
}

func takesPast(g *ir.Graph) bool {
	for _, in := range g.Inputs {
		if pastName.MatchString(in.Name) {
			return true
		}
	}
	return false
}

// zooWithPast builds dir's GPT-2 for decoding: over a shared cache buffer
// (shared) or with past and present of growing length.
func zooWithPast(dir string, shared bool) (*ir.Model, error) {
	cfg, err := zoo.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	build := zoo.BuildGPT2WithPast
	if shared {
		build = zoo.BuildGPT2SharedCache
	}
	m, err := build(cfg, zoo.BuildOptions{})
	if err != nil {
		return nil, err
	}
	if err := zoo.LoadWeights(m, dir); err != nil {
		return nil, err
	}
	return m.IR, nil
}

// readEOS reads eos_token_id (a number or a list) from
// generation_config.json, else config.json.
func readEOS(dir string) []int {
	for _, name := range []string{"generation_config.json", "config.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var c struct {
			EOS json.RawMessage `json:"eos_token_id"`
		}
		if json.Unmarshal(data, &c) != nil || len(c.EOS) == 0 {
			continue
		}
		var one int
		if json.Unmarshal(c.EOS, &one) == nil {
			return []int{one}
		}
		var many []int
		if json.Unmarshal(c.EOS, &many) == nil && len(many) > 0 {
			return many
		}
	}
	return nil
}
