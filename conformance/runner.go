package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// Test is one backend node-test folder: model.onnx plus test_data_set_*/.
type Test struct {
	Name string
	Dir  string
}

// Status of one test.
type Status int

// Test outcomes.
const (
	Passed Status = iota
	Failed
	Skipped
)

func (s Status) String() string { return [...]string{"passed", "failed", "skipped"}[s] }

// Result is the outcome of one test.
type Result struct {
	Name     string        `json:"name"`
	Op       string        `json:"op"`
	Status   Status        `json:"-"`
	State    string        `json:"status"`
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Discover lists every test folder (a folder holding model.onnx) under the
// given roots, sorted by name.
func Discover(roots ...string) ([]Test, error) {
	var tests []Test
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, "model.onnx")); err == nil {
			tests = append(tests, Test{Name: filepath.Base(root), Dir: root})
			continue
		}
		entries, err := os.ReadDir(root)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w (run `make testdata` to produce the node tests)", err)
		}
		for _, e := range entries {
			dir := filepath.Join(root, e.Name())
			if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err == nil {
				tests = append(tests, Test{Name: e.Name(), Dir: dir})
			}
		}
	}
	sort.Slice(tests, func(i, j int) bool { return tests[i].Name < tests[j].Name })
	return tests, nil
}

// Options configure a suite run.
type Options struct {
	Provider runtime.Provider // nil: native
	Filter   *regexp.Regexp   // nil: all
	Parallel int              // concurrent tests; 0: 2
	Timeout  time.Duration    // per test; 0: 2 minutes
	Tol      Tolerance        // zero: ONNXTolerance
	// Progress, if set, is called after each test.
	Progress func(done, total int, r Result)
}

// Run runs the tests and returns one result per test, in name order.
func Run(ctx context.Context, tests []Test, opts Options) []Result {
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Tol == (Tolerance{}) {
		opts.Tol = ONNXTolerance
	}
	var sel []Test
	for _, t := range tests {
		if opts.Filter == nil || opts.Filter.MatchString(t.Name) {
			sel = append(sel, t)
		}
	}
	results := make([]Result, len(sel))
	var mu sync.Mutex
	done := 0
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opts.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				tctx, cancel := context.WithTimeout(ctx, opts.Timeout)
				r := RunTest(tctx, sel[i], opts.Provider, opts.Tol)
				cancel()
				results[i] = r
				mu.Lock()
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(sel), r)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range sel {
		work <- i
	}
	close(work)
	wg.Wait()
	assignOps(results)
	return results
}

// assignOps names the op under test: the op of a single-node model, or for
// an "_expanded" test, the op of its non-expanded sibling.
func assignOps(rs []Result) {
	byName := map[string]string{}
	for _, r := range rs {
		byName[r.Name] = r.Op
	}
	for i, r := range rs {
		if j := strings.Index(r.Name, "_expanded"); j > 0 {
			if op, ok := byName[r.Name[:j]]; ok && op != "" {
				rs[i].Op = op
			}
		}
	}
}

// randomOps produce outputs that depend on a random generator: like ONNX's
// own runner, only their output types and shapes are checked.
var randomOps = map[string]bool{
	"Bernoulli": true, "RandomUniform": true, "RandomUniformLike": true,
	"RandomNormal": true, "RandomNormalLike": true, "Multinomial": true,
}

// RunTest loads the model, runs every test_data_set_* and compares outputs.
func RunTest(ctx context.Context, t Test, p runtime.Provider, tol Tolerance) (res Result) {
	start := time.Now()
	res = Result{Name: t.Name, Status: Failed}
	defer func() {
		res.Duration = time.Since(start)
		res.State = res.Status.String()
	}()
	m, err := onnx.Load(filepath.Join(t.Dir, "model.onnx"))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.Op = mainOp(m.Graph)
	random := usesRandom(m.Graph)
	sess, err := runtime.NewSession(m, runtime.Options{Provider: p})
	if err != nil {
		res.Err = err.Error()
		if errors.Is(err, runtime.ErrUnavailable) {
			res.Status = Skipped
		}
		return res
	}
	defer sess.Close()
	sets, _ := filepath.Glob(filepath.Join(t.Dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		res.Err = "no test_data_set_* folder"
		return res
	}
	for _, set := range sets {
		if err := runSet(ctx, m, sess, set, tol, random); err != nil {
			res.Err = fmt.Sprintf("%s: %v", filepath.Base(set), err)
			if errors.Is(err, runtime.ErrUnavailable) {
				res.Status = Skipped
			}
			return res
		}
	}
	res.Status = Passed
	return res
}

func mainOp(g *ir.Graph) string {
	for _, n := range g.Nodes {
		if n.OpType != "Constant" || len(g.Nodes) == 1 {
			return n.OpType
		}
	}
	return ""
}

func usesRandom(g *ir.Graph) bool {
	for _, n := range g.Nodes {
		if randomOps[n.OpType] {
			return true
		}
		for _, sg := range n.Subgraphs() {
			if usesRandom(sg) {
				return true
			}
		}
	}
	return false
}

// runSet binds input_N.pb to graph inputs (by the name stored in the file
// when it has one, else by position), runs, and compares output_N.pb.
func runSet(ctx context.Context, m *ir.Model, sess *runtime.Session, dir string, tol Tolerance, random bool) error {
	inits := map[string]bool{}
	for _, in := range m.Graph.Initializers {
		inits[in.Name] = true
	}
	var inputs []*ir.ValueInfo
	for _, v := range m.Graph.Inputs {
		if !inits[v.Name] {
			inputs = append(inputs, v)
		}
	}
	byName := map[string]*ir.ValueInfo{}
	for _, v := range m.Graph.Inputs {
		byName[v.Name] = v
	}
	feeds := map[string]tensor.Value{}
	for i := 0; ; i++ {
		path := filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		var typ tensor.Type
		if i < len(inputs) {
			typ = inputs[i].Type
		}
		name, v, err := onnx.ParseValue(data, typ)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if vi, ok := byName[name]; ok && name != "" {
			if vi.Type.Kind != typ.Kind && vi.Type.Kind != tensor.KindUnknown {
				if name, v, err = onnx.ParseValue(data, vi.Type); err != nil {
					return fmt.Errorf("%s: %w", filepath.Base(path), err)
				}
			}
			feeds[name] = v
		} else if i < len(inputs) {
			feeds[inputs[i].Name] = v
		} else {
			return fmt.Errorf("%s: more input files than graph inputs", filepath.Base(path))
		}
	}
	out, err := sess.RunValues(ctx, feeds)
	if err != nil {
		return err
	}
	for i, o := range m.Graph.Outputs {
		path := filepath.Join(dir, fmt.Sprintf("output_%d.pb", i))
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, want, err := onnx.ParseValue(data, o.Type)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		got, ok := out[o.Name]
		if !ok {
			return fmt.Errorf("output %q missing", o.Name)
		}
		if random {
			err = compareTypes(want, got)
		} else {
			err = CompareValues(want, got, tol)
		}
		if err != nil {
			return fmt.Errorf("output %q: %w", o.Name, err)
		}
	}
	return nil
}

func compareTypes(want, got tensor.Value) error {
	w, ok1 := want.(*tensor.Tensor)
	g, ok2 := got.(*tensor.Tensor)
	if !ok1 || !ok2 {
		return fmt.Errorf("got a %T, want a %T", got, want)
	}
	if w.DType() != g.DType() || !tensor.SameShape(w.Shape(), g.Shape()) {
		return fmt.Errorf("got %v%v, want %v%v", g.DType(), g.Shape(), w.DType(), w.Shape())
	}
	return nil
}

// Count returns passed, failed and skipped counts.
func Count(rs []Result) (passed, failed, skipped int) {
	for _, r := range rs {
		switch r.Status {
		case Passed:
			passed++
		case Failed:
			failed++
		default:
			skipped++
		}
	}
	return
}
