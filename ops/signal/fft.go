package signal

import (
	"math"
	"math/bits"
)

// fftPlan computes unnormalized length-n DFTs: radix-2 for powers of two,
// Bluestein's chirp-z (through a power-of-two FFT of length m >= 2n-1)
// otherwise. A plan is read-only once built: goroutines share it, each with
// its own scratch (newScratch).
type fftPlan struct {
	n   int
	tw  []complex128 // radix-2: tw[k] = exp(-2πik/n), k < n/2
	rev []int        // radix-2: bit-reversal permutation

	// Bluestein
	sub   *fftPlan
	chirp []complex128 // exp(-πi k²/n)
	bhat  []complex128 // FFT of the conjugate chirp, wrapped to length m
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n}
	if isPow2(n) {
		p.tw = make([]complex128, n/2)
		for k := range p.tw {
			s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
			p.tw[k] = complex(c, s)
		}
		p.rev = make([]int, n)
		shift := 64 - bits.Len(uint(n-1))
		if n > 1 {
			for i := range p.rev {
				p.rev[i] = int(bits.Reverse64(uint64(i)) >> shift)
			}
		}
		return p
	}
	m := 1
	for m < 2*n-1 {
		m <<= 1
	}
	p.sub = newFFTPlan(m)
	p.chirp = make([]complex128, n)
	for k := range p.chirp {
		// k² mod 2n keeps the angle exact for large k.
		q := (uint64(k) * uint64(k)) % uint64(2*n)
		s, c := math.Sincos(-math.Pi * float64(q) / float64(n))
		p.chirp[k] = complex(c, s)
	}
	p.bhat = make([]complex128, m)
	p.bhat[0] = conj(p.chirp[0])
	for k := 1; k < n; k++ {
		p.bhat[k] = conj(p.chirp[k])
		p.bhat[m-k] = conj(p.chirp[k])
	}
	p.sub.forward(p.bhat, nil)
	return p
}

func conj(z complex128) complex128 { return complex(real(z), -imag(z)) }

// newScratch returns the scratch forward and inverse need (nil for radix-2).
func (p *fftPlan) newScratch() []complex128 {
	if p.sub == nil {
		return nil
	}
	return make([]complex128, len(p.bhat))
}

// forward replaces x (length n) by its DFT: X[k] = Σ_j x[j] exp(-2πijk/n).
// scratch comes from newScratch.
func (p *fftPlan) forward(x, scratch []complex128) {
	if p.sub == nil {
		p.radix2(x)
		return
	}
	n, a := p.n, scratch
	for j := 0; j < n; j++ {
		a[j] = x[j] * p.chirp[j]
	}
	clear(a[n:])
	p.sub.forward(a, nil)
	for i := range a {
		a[i] = conj(a[i] * p.bhat[i])
	}
	p.sub.forward(a, nil) // conj(FFT(conj(.))) is m times the inverse FFT
	scale := 1 / float64(len(a))
	for k := 0; k < n; k++ {
		x[k] = conj(a[k]) * complex(scale, 0) * p.chirp[k]
	}
}

// inverse replaces x by its unnormalized inverse DFT: Σ_k X[k] exp(2πijk/n).
func (p *fftPlan) inverse(x, scratch []complex128) {
	for i, v := range x {
		x[i] = conj(v)
	}
	p.forward(x, scratch)
	for i, v := range x {
		x[i] = conj(v)
	}
}

func (p *fftPlan) radix2(x []complex128) {
	n := p.n
	for i, j := range p.rev {
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				t := p.tw[k*step] * x[start+k+half]
				u := x[start+k]
				x[start+k] = u + t
				x[start+k+half] = u - t
			}
		}
	}
}
