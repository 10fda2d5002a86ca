package finetune

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/train"
)

// Limit on finetune.json (untrusted when a folder comes from elsewhere).
const maxManifestBytes = 1 << 20

// ReadManifest reads dir/finetune.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	if st.Size() > maxManifestBytes {
		return nil, fmt.Errorf("finetune: %s is %d bytes, more than the limit of %d", path, st.Size(), maxManifestBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	var mf Manifest
	if err := json.Unmarshal(data, &mf); err != nil {
		return nil, fmt.Errorf("finetune: %s: %w", path, err)
	}
	if mf.Format != "gort-finetune" {
		return nil, fmt.Errorf("finetune: %s: format %q is not gort-finetune", path, mf.Format)
	}
	return &mf, nil
}

// Backbone is the manifest's backbone model path (Extra["backbone"]),
// resolved against dir when relative.
func (mf *Manifest) Backbone(dir string) (string, error) {
	p, _ := mf.Extra["backbone"].(string)
	if p == "" {
		return "", fmt.Errorf("finetune: %s names no backbone model (extra.backbone)", ManifestFile)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}

// Load rebuilds the fine-tuned model of a folder Fit wrote: the backbone
// named in finetune.json with the same head and training mode, parameters
// and optimizer state from the newest checkpoint.
func Load(dir string, opts ...Option) (*Model, *Manifest, error) {
	mf, err := ReadManifest(dir)
	if err != nil {
		return nil, nil, err
	}
	path, err := mf.Backbone(dir)
	if err != nil {
		return nil, nil, err
	}
	bb, err := onnx.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("finetune: backbone: %w", err)
	}
	pool, err := ParsePooling(mf.Pooling)
	if err != nil {
		return nil, nil, err
	}
	task, err := ParseTask(mf.Task, mf.Labels, pool)
	if err != nil {
		return nil, nil, err
	}
	all := []Option{HiddenOutput(mf.Hidden)}
	if mf.Pooled != "" {
		all = append(all, PooledOutput(mf.Pooled))
	}
	if mf.LoRARank > 0 {
		all = append(all, LoRA(mf.LoRARank, mf.LoRAAlpha))
	}
	if mf.Frozen {
		all = append(all, FreezeBackbone())
	}
	m, err := New(bb, task, append(all, opts...)...)
	if err != nil {
		return nil, nil, err
	}
	tr, err := m.Trainer()
	if err != nil {
		return nil, nil, err
	}
	if _, err := tr.Resume(dir); err != nil && !errors.Is(err, train.ErrNoCheckpoint) {
		m.Close()
		return nil, nil, fmt.Errorf("finetune: %w", err)
	}
	return m, mf, nil
}
