package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// withOptimize makes sessions created inside f optimize with opt.
func withOptimize(opt func(*ir.Model, graphopt.Options) (*ir.Model, graphopt.Report, error), f func()) {
	old := optimize
	optimize = opt
	defer func() { optimize = old }()
	f()
}

// A failing optimizer, or a pass it reverts, leaves the session running
// (less optimized) and shows in OptimizeError; a clean run and a skipped
// optimization report nothing.
func TestOptimizeErrorReported(t *testing.T) {
	m := model([]*ir.Node{
		{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"s"}},
		{Name: "neg", OpType: "Neg", Inputs: []string{"s"}, Outputs: []string{"y"}},
	}, []*ir.ValueInfo{vi("x", 2)}, []*ir.ValueInfo{vi("y", 2)},
		&ir.Initializer{Name: "w", T: tensor.Must([]int{2}, []float32{10, 20})})
	boom := errors.New("boom")
	failing := func(*ir.Model, graphopt.Options) (*ir.Model, graphopt.Report, error) {
		return nil, graphopt.Report{}, boom
	}
	reverting := func(m *ir.Model, o graphopt.Options) (*ir.Model, graphopt.Report, error) {
		om, rep, err := graphopt.Optimize(m, o)
		rep.Passes = append(rep.Passes, graphopt.PassStat{Name: "broken", Reverted: 2, Err: "graphopt: pass broken: boom"})
		return om, rep, err
	}
	for _, tc := range []struct {
		name    string
		opt     func(*ir.Model, graphopt.Options) (*ir.Model, graphopt.Report, error)
		noOpt   bool
		wantErr string // "" for none
	}{
		{"clean", graphopt.Optimize, false, ""},
		{"optimizer fails", failing, false, "running the model unoptimized: boom"},
		{"pass reverted", reverting, false, "graphopt reverted pass broken 2 times: graphopt: pass broken: boom"},
		{"not optimized", failing, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *Session
			var err error
			withOptimize(tc.opt, func() { s, err = NewSession(m, Options{NoOptimize: tc.noOpt}) })
			if err != nil {
				t.Fatal(err)
			}
			got := s.OptimizeError()
			switch {
			case tc.wantErr == "" && got != nil:
				t.Errorf("OptimizeError() = %v, want nil", got)
			case tc.wantErr != "" && (got == nil || !strings.Contains(got.Error(), tc.wantErr)):
				t.Errorf("OptimizeError() = %v, want one saying %q", got, tc.wantErr)
			case tc.wantErr != "" && tc.name == "optimizer fails" && !errors.Is(got, boom):
				t.Errorf("OptimizeError() = %v does not wrap the optimizer's error", got)
			}
			out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.Must([]int{2}, []float32{1, 2})})
			if err != nil {
				t.Fatal(err)
			}
			if y := tensor.Data[float32](out["y"]); y[0] != -11 || y[1] != -22 {
				t.Errorf("y = %v, want [-11 -22]", y)
			}
		})
	}
}
