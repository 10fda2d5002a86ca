package activation

import (
	"math"
	"testing"
)

func TestExpNeg(t *testing.T) {
	worst := 0.0
	for x := -110.0; x <= 0; x += 1.0 / 4096 {
		want := math.Exp(x)
		got := expNeg(x)
		if e := math.Abs(got-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 1e-8 {
		t.Errorf("worst relative error %g, want <= 1e-8", worst)
	}
	if expNeg(-200) != 0 || expNeg(0) != 1 || !math.IsNaN(expNeg(math.NaN())) || expNeg(math.Inf(-1)) != 0 {
		t.Errorf("special values: %v %v %v %v", expNeg(-200), expNeg(0), expNeg(math.NaN()), expNeg(math.Inf(-1)))
	}
}

var sink float64

func BenchmarkMathExp(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := 0.0
		for x := -20.0; x < 0; x += 1.0 / 256 {
			s += math.Exp(x)
		}
		sink = s
	}
}

func BenchmarkExpNeg(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := 0.0
		for x := -20.0; x < 0; x += 1.0 / 256 {
			s += expNeg(x)
		}
		sink = s
	}
}
