package train

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gort-ml/gort/tensor"
)

// The crash test trains the small MLP of train_test.go in a child process
// that saves a checkpoint after every step, and SIGKILLs it at random
// moments (most of a step's time is spent writing the checkpoint). After
// every kill the newest checkpoint must load and hold exactly the
// parameters and optimizer state of an uninterrupted run at that step, and
// after the last kill a resumed run must continue bit-identically.

const crashEnv = "GORT_CRASH_CHILD"

// crashStep is the step graph and options both processes use.
func crashStep(t testing.TB) (*Step, Options) {
	m, loss := mlp(11)
	st, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01), ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	return st, Options{Schedule: WarmupCosine(0.01, 5, 1_000_000, 0.1), Seed: 21, IntraOpThreads: 1}
}

// crashBatch is the batch of step k (0-based), the same in every process.
func crashBatch(k int64) map[string]*tensor.Tensor {
	x, y := blobs(rand.New(rand.NewPCG(77, uint64(k))), 16)
	return map[string]*tensor.Tensor{"x": x, "y": y}
}

// TestCrashChild is the child process: resume from the newest checkpoint if
// there is one, then step and save forever (until killed).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("runs as TestCheckpointSurvivesSIGKILL's child process")
	}
	st, opts := crashStep(t)
	tr, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Resume(dir); err != nil && !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("resume: %v", err)
	}
	fmt.Printf("ready %d\n", tr.Steps())
	for k := tr.Steps(); k < 1_000_000; k++ {
		if _, err := tr.Step(context.Background(), crashBatch(k)); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Save(dir, map[string]any{"next_batch": k + 1}); err != nil {
			t.Fatal(err)
		}
		if os.Getenv(crashEnv+"_RESAVE") != "" {
			// Save the same step again, replacing the folder LATEST names
			// (as a loop that also saves on exit or at an epoch's end does).
			if _, err := tr.Save(dir, map[string]any{"next_batch": k + 1}); err != nil {
				t.Fatal(err)
			}
		}
		// Keep the last few checkpoints, as a training loop would.
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("checkpoint-%d", k+1-3)))
	}
}

// sameTensors reports the first tensor of want that got lacks or holds
// different bits.
func sameTensors(got, want map[string]*tensor.Tensor) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			return fmt.Errorf("%s missing", name)
		}
		gd, wd := tensor.Data[float32](g), tensor.Data[float32](w)
		if !tensor.SameShape(g.Shape(), w.Shape()) || len(gd) != len(wd) {
			return fmt.Errorf("%s has shape %v, want %v", name, g.Shape(), w.Shape())
		}
		for i := range wd {
			if math.Float32bits(gd[i]) != math.Float32bits(wd[i]) {
				return fmt.Errorf("%s[%d] = %v, want %v", name, i, gd[i], wd[i])
			}
		}
	}
	return nil
}

func TestCheckpointSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("child process")
	}
	t.Run("save", func(t *testing.T) { crashLoop(t, false) })
	t.Run("resave", func(t *testing.T) { crashLoop(t, true) })
}

// crashLoop kills children that save every step (twice with resave, the
// second replacing the checkpoint LATEST names) and checks every resume.
func crashLoop(t *testing.T, resave bool) {
	kills := 30
	if testing.Short() {
		kills = 8
	}
	dir := t.TempDir()
	st, opts := crashStep(t)
	ref, err := New(st, opts) // the uninterrupted run, advanced on demand
	if err != nil {
		t.Fatal(err)
	}
	advance := func(tr *Trainer, to int64) []float64 {
		var losses []float64
		for tr.Steps() < to {
			r, err := tr.Step(context.Background(), crashBatch(tr.Steps()))
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, r.Loss)
		}
		return losses
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var last int64
	resumes, asides := 0, 0
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		if resave {
			cmd.Env = append(cmd.Env, crashEnv+"_RESAVE=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child has resumed, then let it train and save
		// for a random 5–200 ms before killing it.
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child died before training: %v", i, err)
		}
		delay := time.Duration(5+rng.IntN(196)) * time.Millisecond
		if last == 0 {
			// On a loaded machine the first save can take longer than any
			// delay; wait for it once so the run always has a checkpoint to
			// test (later kills still land at random moments of saving).
			for t0 := time.Now(); time.Since(t0) < 20*time.Second; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(filepath.Join(dir, LatestFile)); err == nil {
					break
				}
			}
		}
		time.Sleep(delay)
		if err := cmd.Process.Signal(os.Kill); err != nil {
			t.Fatalf("kill %d: %v (the child exited early)", i, err)
		}
		cmd.Wait()
		var from int64
		fmt.Sscanf(line, "ready %d", &from)

		// A fresh trainer resumes from whatever the kill left behind.
		tr, err := New(st, opts)
		if err != nil {
			t.Fatal(err)
		}
		if ck, err := Latest(dir); err == nil && strings.HasSuffix(ck, ".old") {
			asides++
		}
		man, err := tr.Resume(dir)
		if errors.Is(err, ErrNoCheckpoint) && last == 0 {
			t.Logf("kill %2d after %3v: before the first checkpoint", i, delay)
			tr.Close()
			continue
		}
		if err != nil {
			t.Fatalf("kill %d after %v (child started at step %d): resume: %v", i, delay, from, err)
		}
		resumes++
		if man.Step < last {
			t.Fatalf("kill %d: LATEST went back from step %d to %d", i, last, man.Step)
		}
		if man.Extra["next_batch"] != float64(man.Step) {
			t.Fatalf("kill %d: manifest %+v", i, man)
		}
		advance(ref, man.Step)
		if err := sameTensors(tr.Params(), ref.Params()); err != nil {
			t.Fatalf("kill %d: checkpoint of step %d: parameter %v", i, man.Step, err)
		}
		if err := sameTensors(tr.State(), ref.State()); err != nil {
			t.Fatalf("kill %d: checkpoint of step %d: optimizer state %v", i, man.Step, err)
		}
		tr.Close()
		t.Logf("kill %2d after %3v: child resumed at step %4d, LATEST step %4d", i, delay, from, man.Step)
		last = man.Step
	}
	if last == 0 {
		t.Fatal("no checkpoint was ever completed")
	}

	// Continue the last checkpoint for 20 steps next to the reference.
	tr, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Resume(dir); err != nil {
		t.Fatal(err)
	}
	got, want := advance(tr, last+20), advance(ref, last+20)
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("step %d after resume: loss %v, uninterrupted %v", last+int64(i)+1, got[i], want[i])
		}
	}
	if err := sameTensors(tr.Params(), ref.Params()); err != nil {
		t.Fatalf("after 20 resumed steps: parameter %v", err)
	}
	// Each Save removes what interrupted ones left: only the leftovers of
	// kills since the last complete checkpoint remain (saving its step again
	// or the next).
	stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*"))
	for _, p := range stale {
		b := filepath.Base(p)
		if !strings.HasPrefix(b, fmt.Sprintf(".checkpoint-%d.tmp", last)) && !strings.HasPrefix(b, fmt.Sprintf(".checkpoint-%d.tmp", last+1)) && !strings.HasPrefix(b, "."+LatestFile+".tmp") {
			t.Errorf("%s of an interrupted save was not removed", b)
		}
	}
	t.Logf("%d kills, %d resumes (%d from a checkpoint kept aside while replaced) bit-identical to the uninterrupted run; last checkpoint step %d continued 20 steps bit-identically", kills, resumes, asides, last)
}

// TestResumeFromAside: a Save interrupted between moving the old checkpoint
// of a step aside and renaming the new one into place leaves LATEST naming a
// missing folder; Resume takes the copy kept aside, and the next Save of that
// step puts a checkpoint back in place and removes the copy.
func TestResumeFromAside(t *testing.T) {
	st, opts := crashStep(t)
	tr, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dir := t.TempDir()
	if _, err := tr.Step(context.Background(), crashBatch(0)); err != nil {
		t.Fatal(err)
	}
	ck, err := tr.Save(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	aside := filepath.Join(dir, ".checkpoint-1.old")
	if err := os.Rename(ck, aside); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, ".checkpoint-1.tmp123"), 0o755) // an interrupted save's leftovers
	again, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	man, err := again.Resume(dir)
	if err != nil {
		t.Fatal(err)
	}
	if man.Step != 1 {
		t.Fatalf("resumed at step %d, want 1", man.Step)
	}
	if err := sameTensors(again.Params(), tr.Params()); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Save(dir, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := Latest(dir); got != ck {
		t.Fatalf("Latest = %s, want %s", got, ck)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
