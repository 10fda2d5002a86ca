package all

import (
	"testing"

	"github.com/gort-ml/gort/ops"
)

// TestRegistryValid checks the op lists: no duplicate schema, every schema
// has a kernel and a doc line.
func TestRegistryValid(t *testing.T) {
	if _, err := ops.NewRegistry(Lists()...); err != nil {
		t.Fatal(err)
	}
}
