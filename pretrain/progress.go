package pretrain

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows training progress: a bar redrawn in place on a terminal,
// plain lines every few seconds otherwise. The ETA divides the remaining
// steps by a moving average of the step rate.
type progress struct {
	w        io.Writer
	tty      bool
	total    int64
	unit     string  // "tok" or "img"
	avg      float64 // seconds per step, exponential moving average
	last     time.Time
	lastLine time.Time
	every    time.Duration
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, total int64, unit string) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, unit: unit, last: time.Now(), every: 5 * time.Second}
}

// update records a finished step that processed items units.
func (p *progress) update(step int64, loss float64, items int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	dt := now.Sub(p.last).Seconds()
	p.last = now
	if p.avg == 0 {
		p.avg = dt
	} else {
		p.avg = 0.9*p.avg + 0.1*dt
	}
	rate := 0.0
	if p.avg > 0 {
		rate = float64(items) / p.avg
	}
	eta := time.Duration(float64(p.total-step) * p.avg * float64(time.Second)).Round(time.Second)
	if p.tty {
		const width = 24
		fill := int(float64(width) * float64(step) / float64(max(p.total, 1)))
		bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		fmt.Fprintf(p.w, "\r[%s] step %d/%d  loss %.4f  %.0f %s/s  ETA %s   ", bar, step, p.total, loss, rate, p.short(), eta)
		if step == p.total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if step == p.total || step == 1 || now.Sub(p.lastLine) >= p.every {
		p.lastLine = now
		fmt.Fprintf(p.w, "step %d/%d  loss %.4f  %.0f %s/s  ETA %s\n", step, p.total, loss, rate, p.short(), eta)
	}
}

func (p *progress) short() string { return p.unit[:3] }

// note prints a message on its own line (ending a bar first).
func (p *progress) note(format string, args ...any) {
	if p.w == nil {
		return
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Record is one line of metrics.jsonl.
type Record map[string]any

// readMetrics reads metrics.jsonl, keeping records up to step keep (a
// resumed run rewrites what followed its checkpoint).
func readMetrics(path string, keep int64) ([]Record, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if s, ok := r["step"].(float64); ok && int64(s) <= keep {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

// ReadMetrics returns the records of a metrics.jsonl file.
func ReadMetrics(path string) ([]Record, error) { return readMetrics(path, 1<<62) }

func writeMetrics(w io.Writer, recs []Record) error {
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

func num(r Record, k string) (float64, bool) {
	v, ok := r[k].(float64)
	return v, ok
}
