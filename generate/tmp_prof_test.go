package generate

import (
	"os"
	"testing"

	"github.com/gort-ml/gort/runtime"
)

func BenchmarkTmpExport(b *testing.B) {
	l, err := Load(os.Getenv("GORT_GENERATE_EXPORT"), runtime.Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	decodeRate(b, l.Session)
	a, by := allocsPerToken(b, l.Session)
	b.Logf("allocs/token %.0f bytes/token %.0f", a, by)
	b.ResetTimer()
	for range b.N {
		decodeRate(b, l.Session)
	}
}
