package pretrain

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestShippedTopics keeps data/tiny-topics/ equal to its generator (the
// fine-tuning set of `make demo`); GORT_UPDATE=1 regenerates it.
func TestShippedTopics(t *testing.T) {
	for _, f := range []struct {
		name string
		n    int
		seed uint64
	}{{"train.jsonl", 600, 11}, {"dev.jsonl", 200, 12}} {
		var buf bytes.Buffer
		if err := WriteTopicDataset(&buf, f.n, f.seed); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "data", "tiny-topics", f.name)
		if os.Getenv("GORT_UPDATE") != "" {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, buf.Bytes()) {
			t.Fatal(fmt.Sprintf("%s differs from WriteTopicDataset(%d, %d); regenerate with GORT_UPDATE=1 go test ./pretrain -run ShippedTopics", path, f.n, f.seed))
		}
	}
}
