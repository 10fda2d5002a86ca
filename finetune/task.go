package finetune

import (
	"fmt"
	"strings"
)

// Pooling says which vector of the backbone a sequence-level head reads.
type Pooling string

// Poolings.
const (
	PoolAuto   Pooling = ""       // pooler output when the backbone has one, else the first token
	PoolPooler Pooling = "pooler" // the backbone's pooled output (BERT's tanh pooler)
	PoolFirst  Pooling = "first"  // the first token's hidden state ([CLS], DistilBERT style)
	PoolMean   Pooling = "mean"   // the mean of hidden states over the attention mask
)

// ParsePooling reads a --pooling flag value.
func ParsePooling(s string) (Pooling, error) {
	switch p := Pooling(strings.ToLower(s)); p {
	case PoolAuto, PoolPooler, PoolFirst, PoolMean:
		return p, nil
	case "auto":
		return PoolAuto, nil
	case "cls":
		return PoolFirst, nil
	}
	return "", fmt.Errorf("finetune: pooling %q: use auto, pooler, first or mean", s)
}

// Task is a head with its loss: SeqCls, Regression, TokenCls or Embedding.
type Task interface {
	// Name is the task's CLI name (seq-cls, regression, token-cls, embedding).
	Name() string
	// NumLabels is the width of the head's output (0 for Embedding).
	NumLabels() int
}

// SeqCls classifies a sequence into Labels classes (cross-entropy on a
// linear head over the pooled vector, as BertForSequenceClassification).
type SeqCls struct {
	Labels  int
	Pooling Pooling
}

// Regression predicts one number per sequence (mean squared error on a
// 1-wide linear head; transformers' num_labels = 1 regression).
type Regression struct {
	Pooling Pooling
}

// TokenCls labels every token (cross-entropy over Labels classes per token,
// as BertForTokenClassification; label -100 is ignored).
type TokenCls struct {
	Labels int
}

// Embedding fine-tunes sentence embeddings: mean pooling over the attention
// mask and the in-batch contrastive loss of sentence-transformers'
// MultipleNegativesRankingLoss on (anchor, positive) pairs.
type Embedding struct {
	Scale float64 // similarity scale; 0 means 20 (sentence-transformers' default)
}

func (SeqCls) Name() string     { return "seq-cls" }
func (Regression) Name() string { return "regression" }
func (TokenCls) Name() string   { return "token-cls" }
func (Embedding) Name() string  { return "embedding" }

func (t SeqCls) NumLabels() int   { return t.Labels }
func (Regression) NumLabels() int { return 1 }
func (t TokenCls) NumLabels() int { return t.Labels }
func (Embedding) NumLabels() int  { return 0 }

// ParseTask makes a task from its CLI name.
func ParseTask(name string, labels int, pooling Pooling) (Task, error) {
	var t Task
	switch name {
	case "seq-cls":
		t = SeqCls{Labels: labels, Pooling: pooling}
	case "regression":
		t = Regression{Pooling: pooling}
	case "token-cls":
		t = TokenCls{Labels: labels}
	case "embedding":
		t = Embedding{}
	default:
		return nil, fmt.Errorf("finetune: task %q: use seq-cls, token-cls, regression or embedding", name)
	}
	return t, validTask(t)
}

func validTask(t Task) error {
	switch t := t.(type) {
	case SeqCls:
		if t.Labels < 2 {
			return fmt.Errorf("finetune: seq-cls needs at least 2 labels, got %d (use regression for one output)", t.Labels)
		}
	case TokenCls:
		if t.Labels < 2 {
			return fmt.Errorf("finetune: token-cls needs at least 2 labels, got %d", t.Labels)
		}
	case Regression, Embedding:
	case nil:
		return fmt.Errorf("finetune: no task")
	default:
		return fmt.Errorf("finetune: unknown task %T", t)
	}
	if t.NumLabels() > 1<<20 {
		return fmt.Errorf("finetune: %d labels is more than the limit of %d", t.NumLabels(), 1<<20)
	}
	return nil
}

func poolingOf(t Task) Pooling {
	switch t := t.(type) {
	case SeqCls:
		return t.Pooling
	case Regression:
		return t.Pooling
	}
	return PoolMean
}
