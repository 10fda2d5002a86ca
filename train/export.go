package train

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// TrainingGraph returns the step graph as a self-contained ONNX model: the
// current parameters and optimizer state become initializers that back the
// graph inputs of the same names (ONNX's defaults for inputs), so a runtime
// can take a step feeding only the batch, train/lr and train/step, or
// override any parameter or state input. Outputs are as in the step graph.
// params and state default to the step's initial values.
func (s *Step) TrainingGraph(params, state map[string]*tensor.Tensor) (*ir.Model, error) {
	if params == nil {
		params = s.Init
	}
	if state == nil {
		state = s.InitialState()
	}
	m := cloneModel(s.Model)
	g := m.Graph
	for _, p := range s.Params {
		t, ok := params[p]
		if !ok {
			return nil, fmt.Errorf("train: no value for parameter %q", p)
		}
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: p, T: t})
	}
	for _, sl := range s.Slots {
		t, ok := state[sl.Input]
		if !ok {
			return nil, fmt.Errorf("train: no value for optimizer state %q", sl.Input)
		}
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: sl.Input, T: t})
	}
	m.Metadata = append(append([]ir.StringEntry{}, m.Metadata...),
		ir.StringEntry{Key: "gort.training_graph", Value: "1"},
		ir.StringEntry{Key: "gort.optimizer", Value: s.Optimizer.Name()})
	return m, nil
}

// TrainingGraph is Step.TrainingGraph with the trainer's current parameters and state.
func (tr *Trainer) TrainingGraph() (*ir.Model, error) {
	tr.private = false // the model holds the tensors
	return tr.step.TrainingGraph(tr.params, tr.state)
}
