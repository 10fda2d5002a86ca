package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of the optimizer step that follows k
// completed steps (k = 0 for the first step), as Hugging Face's schedulers do.
type Schedule func(k int64) float64

// Constant is a fixed learning rate.
func Constant(lr float64) Schedule { return func(int64) float64 { return lr } }

// WarmupLinear rises linearly from 0 to lr over warmup steps, then decays
// linearly to 0 at total steps (get_linear_schedule_with_warmup).
func WarmupLinear(lr float64, warmup, total int64) Schedule {
	return func(k int64) float64 {
		if k < warmup {
			return lr * float64(k) / float64(max(1, warmup))
		}
		return lr * math.Max(0, float64(total-k)/float64(max(1, total-warmup)))
	}
}

// WarmupCosine rises linearly over warmup steps, then follows half a cosine
// from lr down to lr·minRatio at total steps (get_cosine_schedule_with_warmup
// when minRatio is 0).
func WarmupCosine(lr float64, warmup, total int64, minRatio float64) Schedule {
	return func(k int64) float64 {
		if k < warmup {
			return lr * float64(k) / float64(max(1, warmup))
		}
		p := math.Min(1, float64(k-warmup)/float64(max(1, total-warmup)))
		return lr * (minRatio + (1-minRatio)*0.5*(1+math.Cos(math.Pi*p)))
	}
}

// ParseSchedule builds a schedule from its name ("constant", "linear", "cosine").
func ParseSchedule(name string, lr float64, warmup, total int64) (Schedule, error) {
	switch name {
	case "", "constant":
		return Constant(lr), nil
	case "linear":
		return WarmupLinear(lr, warmup, total), nil
	case "cosine":
		return WarmupCosine(lr, warmup, total, 0), nil
	}
	return nil, fmt.Errorf("train: unknown schedule %q (want constant, linear or cosine)", name)
}
