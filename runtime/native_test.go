package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// testOps is a minimal registry so the executor is tested independently of
// the op families: Add (float32, same shape), Neg, and a Spin op that loops
// until cancelled.
func testRegistry(t *testing.T) *ops.Registry {
	add := &ops.Op{Type: "Add", Since: 1, Doc: "test add", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := c.New(tensor.Float32, in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		a, b, o := tensor.Data[float32](in[0]), tensor.Data[float32](in[1]), tensor.Data[float32](out)
		for i := range o {
			o[i] = a[i] + b[i]
		}
		return []*tensor.Tensor{out}, nil
	})}
	neg := &ops.Op{Type: "Neg", Since: 1, Doc: "test neg", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out := in[0].Clone()
		for i, d := 0, tensor.Data[float32](out); i < len(d); i++ {
			d[i] = -d[i]
		}
		return []*tensor.Tensor{out}, nil
	})}
	spin := &ops.Op{Type: "Spin", Since: 1, Doc: "test spin", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		for {
			if err := c.Check(); err != nil {
				return nil, err
			}
		}
	})}
	r, err := ops.NewRegistry([]*ops.Op{add, neg, spin, branchOp()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// branchOp runs its "body" subgraph on its input (like a one-branch If).
func branchOp() *ops.Op {
	return &ops.Op{Type: "Branch", Since: 1, Doc: "test subgraph", Compile: func(n *ops.Node) (*ops.Kernel, error) {
		sg, err := n.Subgraph("body")
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			return sg.Run(c, in)
		}}, nil
	}}
}

func vi(name string, shape ...int) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: tensor.TensorType(tensor.Float32, shape...)}
}

func model(nodes []*ir.Node, inputs, outputs []*ir.ValueInfo, inits ...*ir.Initializer) *ir.Model {
	return &ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Version: 17}},
		Graph: &ir.Graph{Name: "g", Nodes: nodes, Inputs: inputs, Outputs: outputs, Initializers: inits}}
}

func TestRunOutOfOrderNodesAndInitializers(t *testing.T) {
	// Nodes listed in reverse: the executor must sort them.
	m := model([]*ir.Node{
		{Name: "n2", OpType: "Neg", Inputs: []string{"s"}, Outputs: []string{"y"}},
		{Name: "n1", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"s"}},
	}, []*ir.ValueInfo{vi("x", 2)}, []*ir.ValueInfo{vi("y", 2)},
		&ir.Initializer{Name: "w", T: tensor.Must([]int{2}, []float32{10, 20})})
	s, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.Must([]int{2}, []float32{1, 2})})
	if err != nil {
		t.Fatal(err)
	}
	if got := tensor.Data[float32](out["y"]); got[0] != -11 || got[1] != -22 {
		t.Fatalf("y = %v, want [-11 -22]", got)
	}
}

func TestFeedErrorsNameTheInput(t *testing.T) {
	m := model([]*ir.Node{{OpType: "Neg", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		[]*ir.ValueInfo{vi("x", 2)}, []*ir.ValueInfo{vi("y", 2)})
	s, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		feeds map[string]*tensor.Tensor
		want  string
	}{
		{map[string]*tensor.Tensor{}, `input "x" (float32[2]) is not fed`},
		{map[string]*tensor.Tensor{"x": tensor.Must([]int{3}, []float32{1, 2, 3})}, `input "x": shape [3]`},
		{map[string]*tensor.Tensor{"x": tensor.Must([]int{2}, []int64{1, 2})}, `input "x": dtype int64, want float32`},
		{map[string]*tensor.Tensor{"x": tensor.Must([]int{2}, []float32{1, 2}), "z": tensor.Scalar(float32(1))}, `feed "z" is not a model input`},
	}
	for _, c := range cases {
		_, err := s.Run(context.Background(), c.feeds)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("feeds %v: error %v, want it to contain %q", c.feeds, err, c.want)
		}
	}
}

func TestUnsupportedOpsReportedTogether(t *testing.T) {
	m := model([]*ir.Node{
		{Name: "a", OpType: "Foo", Inputs: []string{"x"}, Outputs: []string{"y"}},
		{Name: "b", OpType: "Bar", Inputs: []string{"y"}, Outputs: []string{"z"}},
	}, []*ir.ValueInfo{vi("x", 2)}, []*ir.ValueInfo{vi("z", 2)})
	_, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t))})
	if err == nil || !strings.Contains(err.Error(), `"a" (Foo)`) || !strings.Contains(err.Error(), `"b" (Bar)`) {
		t.Fatalf("error %v should name both unsupported nodes", err)
	}
	if !errors.Is(err, ops.ErrUnknownOp) {
		t.Fatalf("error %v should wrap ops.ErrUnknownOp", err)
	}
}

func TestCycleAndUndefinedRejected(t *testing.T) {
	cyc := model([]*ir.Node{
		{Name: "a", OpType: "Neg", Inputs: []string{"b"}, Outputs: []string{"a"}},
		{Name: "b", OpType: "Neg", Inputs: []string{"a"}, Outputs: []string{"b"}},
	}, nil, []*ir.ValueInfo{vi("a", 2)})
	if _, err := NewSession(cyc, Options{Provider: NativeWith(testRegistry(t))}); !errors.Is(err, ir.ErrCycle) {
		t.Errorf("cycle: got %v", err)
	}
	undef := model([]*ir.Node{{Name: "a", OpType: "Neg", Inputs: []string{"nope"}, Outputs: []string{"y"}}},
		nil, []*ir.ValueInfo{vi("y", 2)})
	if _, err := NewSession(undef, Options{Provider: NativeWith(testRegistry(t))}); !errors.Is(err, ir.ErrUndefined) {
		t.Errorf("undefined: got %v", err)
	}
}

func TestCancellation(t *testing.T) {
	m := model([]*ir.Node{{Name: "s", OpType: "Spin", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		[]*ir.ValueInfo{vi("x", 1)}, []*ir.ValueInfo{vi("y", 1)})
	s, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := s.Run(ctx, map[string]*tensor.Tensor{"x": tensor.Must([]int{1}, []float32{1})})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestSubgraphCapturesOuterValues checks that a body reads a value of the
// enclosing graph ("w") that it does not declare, and that the outer value
// is not released before the subgraph runs.
func TestSubgraphCapturesOuterValues(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs:  []*ir.ValueInfo{vi("bx", 2)},
		Nodes:   []*ir.Node{{Name: "inner", OpType: "Add", Inputs: []string{"bx", "w"}, Outputs: []string{"by"}}},
		Outputs: []*ir.ValueInfo{vi("by", 2)},
	}
	m := model([]*ir.Node{
		{Name: "mkw", OpType: "Neg", Inputs: []string{"x"}, Outputs: []string{"w"}},
		{Name: "br", OpType: "Branch", Inputs: []string{"x"}, Outputs: []string{"y"},
			Attrs: []ops.Attr{{Name: "body", Type: ops.AttrGraph, G: body}}},
	}, []*ir.ValueInfo{vi("x", 2)}, []*ir.ValueInfo{vi("y", 2)})
	s, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			x := float32(g)
			out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.Must([]int{2}, []float32{x, 2 * x})})
			if err != nil {
				t.Error(err)
				return
			}
			if got := tensor.Data[float32](out["y"]); got[0] != 0 || got[1] != 0 {
				t.Errorf("y = %v, want zeros (x + -x)", got)
			}
		}(g)
	}
	wg.Wait()
}

func TestKernelPanicBecomesError(t *testing.T) {
	// Add with mismatched lengths indexes out of range inside the kernel: a
	// bug, which must surface as ErrInternal, not crash the caller.
	m := model([]*ir.Node{{Name: "a", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
		[]*ir.ValueInfo{vi("x", 3)}, []*ir.ValueInfo{vi("y", 3)},
		&ir.Initializer{Name: "w", T: tensor.Must([]int{1}, []float32{1})})
	s, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.Must([]int{3}, []float32{1, 2, 3})})
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("got %v, want ErrInternal", err)
	}
}

func TestLiveMemoryLimit(t *testing.T) {
	// Three Neg nodes in a chain keep at most two 1000-float tensors live at
	// once (8000 bytes): a 6000-byte bound stops the run at the second node.
	m := model([]*ir.Node{
		{Name: "a", OpType: "Neg", Inputs: []string{"x"}, Outputs: []string{"y1"}},
		{Name: "b", OpType: "Neg", Inputs: []string{"y1"}, Outputs: []string{"y2"}},
		{Name: "c", OpType: "Neg", Inputs: []string{"y2"}, Outputs: []string{"y3"}},
	}, []*ir.ValueInfo{vi("x", 1000)}, []*ir.ValueInfo{vi("y3", 1000)})
	x := map[string]*tensor.Tensor{"x": tensor.Zeros(tensor.Float32, 1000)}
	ok, err := NewSession(m, Options{Provider: NativeWith(testRegistry(t)), MaxLiveBytes: 8000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Run(context.Background(), x); err != nil {
		t.Fatalf("8000 bytes should suffice: %v", err)
	}
	tight, _ := NewSession(m, Options{Provider: NativeWith(testRegistry(t)), MaxLiveBytes: 6000})
	_, err = tight.Run(context.Background(), x)
	if !errors.Is(err, ops.ErrLimit) || !strings.Contains(err.Error(), `"b" (Neg)`) {
		t.Fatalf("got %v, want a limit error naming node b", err)
	}
}
