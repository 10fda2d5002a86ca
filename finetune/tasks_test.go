package finetune

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/tensor"
)

// taskBatch relabels a synthetic batch for each task: token-cls labels
// each token low (< 33) or high, regression predicts the share of low
// tokens, embedding pairs each sequence with itself reversed.
func taskBatch(rng *rand.Rand, task Task, n, s int) map[string]*tensor.Tensor {
	b := synthBatch(rng, n, s)
	ids := tensor.Data[int64](b["input_ids"])
	switch task.(type) {
	case TokenCls:
		y := make([]int64, n*s)
		for i, v := range ids {
			y[i] = -100
			if i%s != 0 && v < 33 {
				y[i] = 1
			} else if i%s != 0 {
				y[i] = 0
			}
		}
		b["labels"] = tensor.Must([]int{n, s}, y)
	case Regression:
		y := make([]float32, n)
		for i := range n {
			for j := 1; j < s; j++ {
				if ids[i*s+j] < 33 {
					y[i] += 1 / float32(s-1)
				}
			}
		}
		b["labels"] = tensor.Must([]int{n}, y)
	case Embedding:
		delete(b, "labels")
		for _, k := range []string{"input_ids", "attention_mask", "token_type_ids"} {
			src := tensor.Data[int64](b[k])
			d := make([]int64, 2*n*s)
			copy(d, src)
			for i := range n {
				d[(n+i)*s] = src[i*s]
				for j := 1; j < s; j++ {
					d[(n+i)*s+j] = src[i*s+s-j]
				}
			}
			b[k] = tensor.Must([]int{2 * n, s}, d)
		}
	}
	return b
}

// Every task trains (the loss falls clearly) and exports a graph ONNX
// Runtime runs with gort's outputs.
func TestTasksTrainAndExport(t *testing.T) {
	for _, task := range []Task{TokenCls{Labels: 2}, Regression{Pooling: PoolMean}, Embedding{}, SeqCls{Labels: 2, Pooling: PoolFirst}} {
		t.Run(task.Name(), func(t *testing.T) {
			m, err := New(tinyBERT(t), task, Seed(4))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			rng := rand.New(rand.NewPCG(5, 6))
			var first, last float64
			for i := range 60 {
				res, err := m.Step(context.Background(), taskBatch(rng, task, 16, 8))
				if err != nil {
					t.Fatal(err)
				}
				if i < 5 {
					first += res.Loss / 5
				}
				if i >= 55 {
					last += res.Loss / 5
				}
			}
			t.Logf("loss %.4f -> %.4f", first, last)
			if last > 0.7*first {
				t.Errorf("loss fell from %.4f to only %.4f", first, last)
			}
			orttest.Need(t)
			if d := exportParity(t, m, taskBatch(rng, task, 3, 6)); d > 1e-4 {
				t.Errorf("ORT differs from gort by %g", d)
			}
		})
	}
}

// LoRA on a zoo graph, whose projections are MatMul(x, Transpose(W)) with
// W in PyTorch's (out, in) layout: the merge respects the layout.
func TestLoRAOnZooLayout(t *testing.T) {
	cfg, err := zoo.ParseConfig([]byte(`{"model_type": "bert", "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 32, "type_vocab_size": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	zm, err := zoo.Build(cfg, "BertModel", zoo.BuildOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(zm.IR, SeqCls{Labels: 2}, LoRA(2, 4))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, a := range m.adapters {
		if !a.transposed {
			t.Fatalf("adapter on %s not seen through its Transpose", a.weight)
		}
	}
	if len(m.adapters) != 8 {
		t.Fatalf("%d adapters: %v", len(m.adapters), m.Adapters())
	}
	before := snapshot(m)
	trainFew(t, m, 4)
	for k := range changed(before, snapshot(m)) {
		if k != HeadWeight && k != HeadBias && !isAdapter(m, k) {
			t.Errorf("%s changed", k)
		}
	}
	checkMerge(t, m, synthBatch(rand.New(rand.NewPCG(1, 1)), 3, 7))
}

func isAdapter(m *Model, name string) bool {
	for _, a := range m.adapters {
		if name == a.a || name == a.b {
			return true
		}
	}
	return false
}
