package train

import (
	"context"
	"fmt"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// Options configure a Trainer.
type Options struct {
	// Provider runs the step graph; nil means the native provider.
	Provider runtime.Provider
	// Schedule gives the learning rate per step; nil means Constant(1e-3).
	Schedule Schedule
	// Seed drives every random op of the step (dropout): step k runs with a
	// seed derived from (Seed, k), so a resumed run repeats exactly.
	Seed uint64
	// IntraOpThreads as in runtime.Options.
	IntraOpThreads int
}

// Trainer runs a Step repeatedly, holding the parameters and optimizer
// state between steps.
type Trainer struct {
	step   *Step
	sess   *runtime.Session
	grad   *runtime.Session // with accumulation
	update *runtime.Session // with accumulation
	opts   Options
	params map[string]*tensor.Tensor
	state  map[string]*tensor.Tensor
	done   int64 // completed steps
	// private: the parameters and state that the next step replaces came
	// out of this trainer's last step and no caller has been handed them
	// since (Params, State, TrainingGraph and Resume clear it), so the step
	// donates their memory to the runtime for its later runs.
	private  bool
	replaced []string                  // the parameter and state inputs a step replaces
	produced map[string]*tensor.Tensor // what the last step put there
	donated  []string
}

// Result reports one step.
type Result struct {
	Step     int64   // 1-based number of the step just taken
	Loss     float64 // loss before the update
	LR       float64
	GradNorm float64 // before clipping; 0 unless the step clips
}

// New compiles the step graph once and starts from the step's initial
// parameters and zero optimizer state.
func New(st *Step, opts Options) (*Trainer, error) {
	if opts.Schedule == nil {
		opts.Schedule = Constant(1e-3)
	}
	// Build already optimized the step graphs (unless told not to).
	sess, err := runtime.NewSession(st.Model, runtime.Options{Provider: opts.Provider, IntraOpThreads: opts.IntraOpThreads, NoOptimize: true})
	if err != nil {
		return nil, fmt.Errorf("train: compiling the step graph: %w", err)
	}
	tr := &Trainer{step: st, sess: sess, opts: opts, params: map[string]*tensor.Tensor{}, state: st.InitialState()}
	if st.Accumulate > 1 {
		ro := runtime.Options{Provider: opts.Provider, IntraOpThreads: opts.IntraOpThreads, NoOptimize: true}
		if tr.grad, err = runtime.NewSession(st.GradModel, ro); err != nil {
			return nil, fmt.Errorf("train: compiling the gradient graph: %w", err)
		}
		if tr.update, err = runtime.NewSession(st.UpdateModel, ro); err != nil {
			return nil, fmt.Errorf("train: compiling the update graph: %w", err)
		}
	}
	for p, t := range st.Init {
		tr.params[p] = t
	}
	for p := range st.NewParams {
		tr.replaced = append(tr.replaced, p)
	}
	for _, sl := range st.Slots {
		tr.replaced = append(tr.replaced, sl.Input)
	}
	return tr, nil
}

// Close releases the sessions.
func (tr *Trainer) Close() error {
	if tr.grad != nil {
		tr.grad.Close()
		tr.update.Close()
	}
	return tr.sess.Close()
}

// Steps returns the number of completed steps.
func (tr *Trainer) Steps() int64 { return tr.done }

// Params returns the current parameters by name (not copies). The map is
// live: each Step replaces its entries. The tensors in it when Params
// returns stay valid; a tensor a later Step puts there and that is read
// from the map without calling Params again may have its memory reused by
// the Step after that (call Params, or Clone it, to keep it).
func (tr *Trainer) Params() map[string]*tensor.Tensor {
	tr.private = false
	return tr.params
}

// State returns the optimizer state by slot input name (not copies), live
// like Params.
func (tr *Trainer) State() map[string]*tensor.Tensor {
	tr.private = false
	return tr.state
}

// donating marks the replaced parameters and state donated for a step's
// run when no caller holds them (only those the last step produced: a
// checkpoint's tensors, for example, are not).
func (tr *Trainer) donating(ctx context.Context) context.Context {
	if !tr.private {
		return ctx
	}
	tr.donated = tr.donated[:0]
	for _, name := range tr.replaced {
		t, ok := tr.params[name]
		if !ok {
			t = tr.state[name]
		}
		if t != nil && tr.produced[name] == t {
			tr.donated = append(tr.donated, name)
		}
	}
	return runtime.WithDonated(ctx, tr.donated...)
}

// stepped records the parameters and state a step produced.
func (tr *Trainer) stepped() {
	if tr.produced == nil {
		tr.produced = map[string]*tensor.Tensor{}
	}
	for _, name := range tr.replaced {
		if t, ok := tr.params[name]; ok {
			tr.produced[name] = t
		} else {
			tr.produced[name] = tr.state[name]
		}
	}
	tr.private = true
}

// StepSeed is the seed of step k's random ops: a SplitMix64 mix of the run's
// seed and k.
func StepSeed(seed uint64, k int64) uint64 {
	z := seed + uint64(k)*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Step runs forward, loss, backward and update on one batch:
//
//	loss, dθ = ∇L(θ; batch);  θ, state = optimizer(θ, dθ, state, lr(k), k+1)
func (tr *Trainer) Step(ctx context.Context, batch map[string]*tensor.Tensor) (Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if tr.step.Accumulate > 1 {
		return Result{}, fmt.Errorf("train: the step accumulates %d micro-batches; call StepAccumulated", tr.step.Accumulate)
	}
	k := tr.done
	lr := tr.opts.Schedule(k)
	feeds := make(map[string]*tensor.Tensor, len(batch)+len(tr.params)+len(tr.state)+2)
	for name, t := range batch {
		feeds[name] = t
	}
	for name, t := range tr.params {
		feeds[name] = t
	}
	for name, t := range tr.state {
		feeds[name] = t
	}
	feeds[InputLR] = scalarT(tr.step.DType, lr)
	feeds[InputStep] = tensor.Scalar(k + 1)
	out, err := tr.sess.Run(tr.donating(runtime.WithSeed(ctx, StepSeed(tr.opts.Seed, k))), feeds)
	if err != nil {
		return Result{}, fmt.Errorf("train: step %d: %w", k+1, err)
	}
	res := Result{Step: k + 1, LR: lr, Loss: scalarValue(out[OutputLoss])}
	if tr.step.Clipped {
		res.GradNorm = scalarValue(out[OutputGradNorm])
	}
	for p, o := range tr.step.NewParams {
		tr.params[p] = out[o]
	}
	for _, sl := range tr.step.Slots {
		tr.state[sl.Input] = out[sl.Output]
	}
	tr.stepped()
	tr.done++
	return res, nil
}

func scalarT(dt tensor.DType, v float64) *tensor.Tensor {
	switch dt {
	case tensor.Float64:
		return tensor.Scalar(v)
	case tensor.Float16:
		return tensor.Scalar(tensor.Float16FromFloat32(float32(v)))
	case tensor.BFloat16:
		return tensor.Scalar(tensor.BFloat16FromFloat32(float32(v)))
	}
	return tensor.Scalar(float32(v))
}

func scalarValue(t *tensor.Tensor) float64 {
	if t == nil || t.Len() == 0 {
		return 0
	}
	switch t.DType() {
	case tensor.Float64:
		return tensor.Data[float64](t)[0]
	case tensor.Float32:
		return float64(tensor.Data[float32](t)[0])
	case tensor.Float16:
		return float64(tensor.Data[tensor.Float16Bits](t)[0].Float32())
	case tensor.BFloat16:
		return float64(tensor.Data[tensor.BFloat16Bits](t)[0].Float32())
	}
	return 0
}

// StepAccumulated takes one optimizer step from len(micro) micro-batches
// (Config.Accumulate of them): gradients and losses are averaged, so with
// a mean loss and equal micro-batches the step equals one on their union.
func (tr *Trainer) StepAccumulated(ctx context.Context, micro []map[string]*tensor.Tensor) (Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	st := tr.step
	if st.Accumulate <= 1 {
		if len(micro) != 1 {
			return Result{}, fmt.Errorf("train: %d micro-batches for a step built without accumulation", len(micro))
		}
		return tr.Step(ctx, micro[0])
	}
	if len(micro) != st.Accumulate {
		return Result{}, fmt.Errorf("train: %d micro-batches, the step accumulates %d", len(micro), st.Accumulate)
	}
	k := tr.done
	sums := make([][]float64, len(st.Params))
	loss := 0.0
	for mi, batch := range micro {
		feeds := map[string]*tensor.Tensor{}
		for name, t := range batch {
			feeds[name] = t
		}
		for name, t := range tr.params {
			feeds[name] = t
		}
		seed := StepSeed(tr.opts.Seed, k*int64(st.Accumulate)+int64(mi))
		out, err := tr.grad.Run(runtime.WithSeed(ctx, seed), feeds)
		if err != nil {
			return Result{}, fmt.Errorf("train: step %d micro-batch %d: %w", k+1, mi+1, err)
		}
		loss += scalarValue(out[OutputLoss])
		for i, gname := range st.GradNames {
			g, err := asFloat64(out[gname])
			if err != nil {
				return Result{}, err
			}
			if sums[i] == nil {
				sums[i] = g
				continue
			}
			for j := range g {
				sums[i][j] += g[j]
			}
		}
	}
	lr := tr.opts.Schedule(k)
	feeds := map[string]*tensor.Tensor{InputLR: scalarT(st.DType, lr), InputStep: tensor.Scalar(k + 1)}
	for name, t := range tr.params {
		feeds[name] = t
	}
	for name, t := range tr.state {
		feeds[name] = t
	}
	for i, p := range st.Params {
		for j := range sums[i] {
			sums[i][j] /= float64(st.Accumulate)
		}
		feeds[st.GradInputs[i]] = fromFloat64(st.DType, st.Init[p].Shape(), sums[i])
	}
	out, err := tr.update.Run(tr.donating(ctx), feeds)
	if err != nil {
		return Result{}, fmt.Errorf("train: step %d update: %w", k+1, err)
	}
	res := Result{Step: k + 1, LR: lr, Loss: loss / float64(st.Accumulate)}
	if st.Clipped {
		res.GradNorm = scalarValue(out[OutputGradNorm])
	}
	for p, o := range st.NewParams {
		tr.params[p] = out[o]
	}
	for _, sl := range st.Slots {
		tr.state[sl.Input] = out[sl.Output]
	}
	tr.stepped()
	tr.done++
	return res, nil
}

func asFloat64(t *tensor.Tensor) ([]float64, error) {
	switch t.DType() {
	case tensor.Float32:
		d := tensor.Data[float32](t)
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case tensor.Float64:
		return append([]float64{}, tensor.Data[float64](t)...), nil
	}
	return nil, fmt.Errorf("train: gradient accumulation supports float32 and float64 parameters, not %v", t.DType())
}

func fromFloat64(dt tensor.DType, shape []int, v []float64) *tensor.Tensor {
	if dt == tensor.Float64 {
		return tensor.Must(shape, v)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.Must(shape, f)
}
