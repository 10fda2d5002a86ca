package finetune

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// bar draws a one-line progress bar with \r (or nothing without a writer).
type bar struct {
	w     io.Writer
	total int64
	start time.Time
	last  time.Time
}

func newBar(w io.Writer, total int64) *bar { return &bar{w: w, total: total, start: time.Now()} }

func (b *bar) update(step int64, loss float64) {
	if b.w == nil || (time.Since(b.last) < 200*time.Millisecond && step != b.total) {
		return
	}
	b.last = time.Now()
	const width = 30
	frac := float64(step) / float64(max(b.total, 1))
	n := int(frac * width)
	el := time.Since(b.start)
	eta := time.Duration(float64(el) / max(frac, 1e-9) * (1 - frac))
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d loss %.4f  %s<%s ", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		step, b.total, loss, el.Round(time.Second), eta.Round(time.Second))
}

func (b *bar) done() {
	if b.w != nil {
		fmt.Fprintln(b.w)
	}
}

func formatMetrics(m Metrics) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.4f", k, m[k])
	}
	return strings.Join(parts, " ")
}

func sortStrings(s []string) { sort.Strings(s) }
