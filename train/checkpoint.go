package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gort-ml/gort/tensor"
)

// A checkpoint folder holds checkpoint-<step>/ subfolders and a LATEST file
// naming the newest complete one. Each subfolder has model.safetensors (the
// parameters, under their graph names, which for zoo models are the Hugging
// Face names), optimizer.safetensors (state as "<param>/<slot>") and
// trainer.json (the manifest). A subfolder is written under a temporary
// name, every file fsynced, then renamed; LATEST is replaced atomically last.
// A crash at any moment leaves LATEST naming a complete checkpoint (or, when
// it struck while a checkpoint of the same step was being replaced, the
// previous one kept aside, which Latest finds). One process writes to a
// folder at a time; the next Save removes what an interrupted one left.

// Manifest is trainer.json.
type Manifest struct {
	Format    string         `json:"format"` // "gort-checkpoint"
	Version   int            `json:"version"`
	Step      int64          `json:"step"`
	Seed      uint64         `json:"seed"`
	Optimizer string         `json:"optimizer"`
	DType     string         `json:"dtype"`
	Params    []string       `json:"params"`
	Slots     []string       `json:"slots"`
	Extra     map[string]any `json:"extra,omitempty"`
}

// LatestFile names the newest complete checkpoint inside a checkpoint folder.
const LatestFile = "LATEST"

// Save writes a checkpoint of the current step into dir and returns its
// folder. extra is stored in the manifest (data position, config, ...).
func (tr *Trainer) Save(dir string, extra map[string]any) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("checkpoint-%d", tr.done)
	final := filepath.Join(dir, name)
	tmp, err := os.MkdirTemp(dir, "."+name+".tmp")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	params := sortedNames(tr.params)
	if err := tensor.SaveSafetensors(filepath.Join(tmp, "model.safetensors"), params, tr.params, map[string]string{"format": "pt"}); err != nil {
		return "", err
	}
	slots := sortedNames(tr.state)
	if err := tensor.SaveSafetensors(filepath.Join(tmp, "optimizer.safetensors"), slots, tr.state, nil); err != nil {
		return "", err
	}
	man := Manifest{Format: "gort-checkpoint", Version: 1, Step: tr.done, Seed: tr.opts.Seed,
		Optimizer: tr.step.Optimizer.Name(), DType: tr.step.DType.String(), Params: params, Slots: slots, Extra: extra}
	js, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return "", err
	}
	if err := tensor.WriteFileAtomic(filepath.Join(tmp, "trainer.json"), func(w io.Writer) error { _, err := w.Write(js); return err }); err != nil {
		return "", err
	}
	// An older checkpoint of the same step (a re-run, or a second save of
	// one step) may be the one LATEST names. Move it aside instead of
	// deleting it first: a crash between the two renames leaves it where
	// Latest looks when the named folder is missing.
	aside := filepath.Join(dir, asideName(name))
	if _, err := os.Stat(final); err == nil {
		if err := os.RemoveAll(aside); err != nil {
			return "", err
		}
		if err := os.Rename(final, aside); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	syncDir(dir)
	if err := tensor.WriteFileAtomic(filepath.Join(dir, LatestFile), func(w io.Writer) error { _, err := io.WriteString(w, name+"\n"); return err }); err != nil {
		return "", err
	}
	os.RemoveAll(aside)
	removeStale(dir)
	return final, nil
}

// removeStale deletes what interrupted saves left behind: temporary
// checkpoint folders and LATEST files (a folder has one writer, and this
// save's own are renamed by now).
func removeStale(dir string) {
	for _, pattern := range []string{".checkpoint-*.tmp*", "." + LatestFile + ".tmp*"} {
		stale, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range stale {
			os.RemoveAll(p)
		}
	}
}

// asideName is where Save keeps the previous checkpoint of a step while it
// replaces it.
func asideName(name string) string { return "." + name + ".old" }

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ErrNoCheckpoint is returned by Latest when a folder holds no complete checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// Latest returns the newest complete checkpoint folder inside dir.
func Latest(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, LatestFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("train: %s: %w (no %s file)", dir, ErrNoCheckpoint, LatestFile)
	}
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(b))
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("train: %s: %s names %q, not a checkpoint folder", dir, LatestFile, name)
	}
	ck := filepath.Join(dir, name)
	if _, err := os.Stat(ck); errors.Is(err, os.ErrNotExist) {
		// Save was interrupted while replacing this checkpoint.
		if aside := filepath.Join(dir, asideName(name)); exists(aside) {
			return aside, nil
		}
	}
	return ck, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Resume restores parameters, optimizer state and the step count from the
// newest checkpoint in dir. The checkpoint must match the step graph: the
// same parameters with the same shapes and the same optimizer.
func (tr *Trainer) Resume(dir string) (*Manifest, error) {
	ck, err := Latest(dir)
	if err != nil {
		return nil, err
	}
	js, err := os.ReadFile(filepath.Join(ck, "trainer.json"))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var man Manifest
	if err := json.Unmarshal(js, &man); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(ck, "trainer.json"), err)
	}
	if man.Format != "gort-checkpoint" || man.Version != 1 {
		return nil, fmt.Errorf("train: %s is not a gort checkpoint (format %q version %d)", ck, man.Format, man.Version)
	}
	if man.Optimizer != tr.step.Optimizer.Name() {
		return nil, fmt.Errorf("train: checkpoint %s used optimizer %s, this run uses %s", ck, man.Optimizer, tr.step.Optimizer.Name())
	}
	params, err := tensor.LoadSafetensors(filepath.Join(ck, "model.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	state, err := tensor.LoadSafetensors(filepath.Join(ck, "optimizer.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := matchInto(tr.params, params.Tensors, "parameter", ck); err != nil {
		return nil, err
	}
	if err := matchInto(tr.state, state.Tensors, "optimizer state", ck); err != nil {
		return nil, err
	}
	if man.Step < 0 {
		return nil, fmt.Errorf("train: %s: negative step %d", ck, man.Step)
	}
	tr.done = man.Step
	tr.opts.Seed = man.Seed
	return &man, nil
}

// matchInto replaces every tensor of dst with the same-named one of src,
// after checking that the names, dtypes and shapes agree exactly.
func matchInto(dst, src map[string]*tensor.Tensor, what, ck string) error {
	var problems []string
	for name, want := range dst {
		got, ok := src[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s %q missing", what, name))
		case got.DType() != want.DType() || !tensor.SameShape(got.Shape(), want.Shape()):
			problems = append(problems, fmt.Sprintf("%s %q is %v%v, the model needs %v%v", what, name, got.DType(), got.Shape(), want.DType(), want.Shape()))
		}
	}
	for name := range src {
		if _, ok := dst[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected %s %q", what, name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("train: checkpoint %s does not match the model: %s", ck, strings.Join(problems, "; "))
	}
	for name := range dst {
		dst[name] = src[name]
	}
	return nil
}
