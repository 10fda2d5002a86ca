package onnx

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// nodeTestDir is the ONNX backend node tests folder, or "" (tests skip).
func nodeTestDir(t testing.TB) string {
	for _, d := range []string{os.Getenv("GORT_ONNX_NODE"), "../../shared/conformance/onnx-node", "/work/shared/conformance/onnx-node"} {
		if d == "" {
			continue
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	t.Skip("ONNX node tests not found; run make testdata or set GORT_ONNX_NODE")
	return ""
}

func nodeTestModels(t testing.TB) []string {
	dir := nodeTestDir(t)
	ms, err := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ms)
	if len(ms) == 0 {
		t.Skipf("no model.onnx under %s", dir)
	}
	return ms
}

// dataFiles returns a test data set's input_N.pb or output_N.pb files in N order.
func dataFiles(t testing.TB, set, prefix string) []string {
	fs, _ := filepath.Glob(filepath.Join(set, prefix+"_*.pb"))
	num := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), prefix+"_"), ".pb"))
		return n
	}
	sort.Slice(fs, func(i, j int) bool { return num(fs[i]) < num(fs[j]) })
	return fs
}

// TestLoadNodeTests loads every node-test model and decodes its test data
// with the types of the graph's inputs and outputs.
func TestLoadNodeTests(t *testing.T) {
	var models, values int
	for _, path := range nodeTestModels(t) {
		m, err := Load(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		models++
		sets, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "test_data_set_*"))
		for _, set := range sets {
			for _, io := range []struct {
				prefix string
				vis    []*ir.ValueInfo
			}{{"input", inputsWithoutInit(m.Graph)}, {"output", m.Graph.Outputs}} {
				for i, f := range dataFiles(t, set, io.prefix) {
					var typ tensor.Type
					if i < len(io.vis) {
						typ = io.vis[i].Type
					}
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					name, v, err := ParseValue(data, typ)
					if err != nil {
						t.Errorf("%s: %v", f, err)
						continue
					}
					values++
					b, err := MarshalValue(name, v)
					if err != nil {
						t.Errorf("%s: MarshalValue: %v", f, err)
						continue
					}
					name2, v2, err := ParseValue(b, typ)
					if err != nil || name2 != name || !valueEqual(v, v2) {
						t.Errorf("%s: value changed by MarshalValue/ParseValue (%v)", f, err)
					}
				}
			}
		}
	}
	t.Logf("loaded %d models, %d values", models, values)
}

func inputsWithoutInit(g *ir.Graph) []*ir.ValueInfo {
	init := map[string]bool{}
	for _, in := range g.Initializers {
		init[in.Name] = true
	}
	var out []*ir.ValueInfo
	for _, v := range g.Inputs {
		if !init[v.Name] {
			out = append(out, v)
		}
	}
	return out
}

// valueEqual compares values of any kind element by element.
func valueEqual(a, b tensor.Value) bool {
	switch x := a.(type) {
	case *tensor.Tensor:
		y, ok := b.(*tensor.Tensor)
		return ok && tensor.Equal(x, y)
	case *tensor.Sequence:
		y, ok := b.(*tensor.Sequence)
		if !ok || len(x.Items) != len(y.Items) || x.Elem.Kind != y.Elem.Kind {
			return false
		}
		for i := range x.Items {
			if !valueEqual(x.Items[i], y.Items[i]) {
				return false
			}
		}
		return true
	case *tensor.Optional:
		y, ok := b.(*tensor.Optional)
		if !ok || (x.V == nil) != (y.V == nil) || x.Elem.Kind != y.Elem.Kind {
			return false
		}
		return x.V == nil || valueEqual(x.V, y.V)
	case *tensor.Map:
		y, ok := b.(*tensor.Map)
		return ok && tensor.Equal(x.Keys, y.Keys) && valueEqual(x.Values, y.Values)
	}
	return false
}
