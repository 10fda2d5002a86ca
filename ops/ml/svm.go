package ml

import (
	"fmt"
	"math"
	"strings"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// SVMRegressor: Y[n] = Σ_j coefficients[j]·K(X[n], sv_j) + rho[0] with the
// support vectors sv (n_supports of them), or X[n]·coefficients + rho[0]
// without; one_class = 1 gives ±1 by the sign. K is LINEAR (x·y), POLY
// ((γ x·y + c0)^degree), RBF (exp(-γ |x-y|²)) or SIGMOID (tanh(γ x·y + c0)),
// kernel_params = [γ, c0, degree].
var svmRegressorOps = ops.Versions(Domain, "SVMRegressor", "SVMRegressor: Y = Σ coefficients_j K(X, sv_j) + rho",
	[]int{1}, inferDTypes(tensor.Float32), compileSVMRegressor)

// SVMClassifier: one-vs-one support vector classification as libsvm (with
// vectors_per_class) or one score per class X·coefficients_kᵀ + rho[0]
// (liblinear, no support vectors); pairwise scores become probabilities
// with prob_a/prob_b (Platt scaling and libsvm's multiclass coupling).
// Labels and score layout follow ONNX Runtime.
var svmClassifierOps = ops.Versions(Domain, "SVMClassifier", "SVMClassifier: one-vs-one SVM votes (or linear scores) -> label, scores",
	[]int{1}, inferClassifier("classlabels_ints"), compileSVMClassifier)

// svmKernel is a kernel function with its parameters.
type svmKernel struct {
	kind         string // LINEAR, POLY, RBF, SIGMOID
	gamma, coef0 float64
	degree       float64
}

func readKernel(n *ops.Node) (svmKernel, error) {
	k := svmKernel{kind: strings.ToUpper(n.String("kernel_type", "LINEAR"))}
	params := n.Floats("kernel_params", nil)
	if err := n.Err(); err != nil {
		return k, err
	}
	switch k.kind {
	case "LINEAR", "POLY", "RBF", "SIGMOID":
	default:
		return k, fmt.Errorf("attribute kernel_type is %q, want LINEAR, POLY, RBF or SIGMOID", k.kind)
	}
	if len(params) > 0 {
		if len(params) != 3 {
			return k, fmt.Errorf("attribute kernel_params has %d values, want [gamma, coef0, degree]", len(params))
		}
		k.gamma, k.coef0, k.degree = float64(params[0]), float64(params[1]), float64(int64(params[2]))
	}
	return k, nil
}

func (k *svmKernel) dot(a, b []float64) float64 {
	if k.kind == "RBF" {
		s := 0.0
		for i, v := range a {
			d := v - b[i]
			s += d * d
		}
		return math.Exp(-k.gamma * s)
	}
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	switch k.kind {
	case "POLY":
		return math.Pow(s*k.gamma+k.coef0, k.degree)
	case "SIGMOID":
		return math.Tanh(s*k.gamma + k.coef0)
	}
	return s
}

// svmRows reads X and checks its width against the model's.
func svmRows(in []*tensor.Tensor, features int) ([]float64, int, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, 0, err
	}
	x, rows, cols, err := featureRows(in[0], -1)
	if err != nil {
		return nil, 0, err
	}
	if cols != features && rows > 0 {
		return nil, 0, fmt.Errorf("input X has %d features, the model has %d", cols, features)
	}
	return x, rows, nil
}

func compileSVMRegressor(n *ops.Node) (*ops.Kernel, error) {
	k, err := readKernel(n)
	if err != nil {
		return nil, err
	}
	nSup := n.Int("n_supports", 0)
	oneClass := n.Int("one_class", 0) != 0
	coef, sv, rho := widen(n.Floats("coefficients", nil)), widen(n.Floats("support_vectors", nil)), widen(n.Floats("rho", nil))
	post, err := parsePost(n.String("post_transform", "NONE"))
	if err != nil {
		return nil, err
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if len(rho) == 0 {
		return nil, fmt.Errorf("attribute rho is required")
	}
	features := len(coef)
	if nSup > 0 {
		if len(coef) != int(nSup) || len(sv)%int(nSup) != 0 {
			return nil, fmt.Errorf("n_supports %d needs one coefficient per support vector (got %d) and support_vectors a multiple of it (got %d)", nSup, len(coef), len(sv))
		}
		features = len(sv) / int(nSup)
	} else if nSup < 0 {
		return nil, fmt.Errorf("attribute n_supports is %d, want >= 0", nSup)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, rows, err := svmRows(in, features)
		if err != nil {
			return nil, err
		}
		y := make([]float64, rows)
		for r := range y {
			xr := x[r*features : (r+1)*features]
			s := rho[0]
			if nSup > 0 {
				for j, w := range coef {
					s += w * k.dot(xr, sv[j*features:(j+1)*features])
				}
			} else {
				s += (&svmKernel{kind: "LINEAR"}).dot(xr, coef)
			}
			if oneClass {
				if s > 0 {
					s = 1
				} else {
					s = -1
				}
			}
			y[r] = s
		}
		postTransform(post, y, 1)
		out, err := storeFloat32(c, y, rows, 1)
		return []*tensor.Tensor{out}, err
	}}, nil
}

type svmClassifier struct {
	k             svmKernel
	lb            labels
	classes       int
	features      int
	coef, sv, rho []float64
	probA, probB  []float64
	perClass      []int // support vectors of each class (SVC mode); nil in linear mode
	vectors       int   // total support vectors
	start         []int
	allPositive   bool
	post          int
}

func compileSVMClassifier(n *ops.Node) (*ops.Kernel, error) {
	k, err := readKernel(n)
	if err != nil {
		return nil, err
	}
	p := &svmClassifier{k: k,
		lb:    labels{ints: n.Ints("classlabels_ints", nil), strs: n.Strings("classlabels_strings", nil)},
		coef:  widen(n.Floats("coefficients", nil)),
		sv:    widen(n.Floats("support_vectors", nil)),
		rho:   widen(n.Floats("rho", nil)),
		probA: widen(n.Floats("prob_a", nil)),
		probB: widen(n.Floats("prob_b", nil)),
	}
	vpc := n.Ints("vectors_per_class", nil)
	if p.post, err = parsePost(n.String("post_transform", "NONE")); err != nil {
		return nil, err
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if n.Has("classlabels_ints") == n.Has("classlabels_strings") || p.lb.len() == 0 {
		return nil, fmt.Errorf("exactly one of classlabels_ints and classlabels_strings is required, non-empty")
	}
	p.classes = p.lb.len()
	if len(p.rho) == 0 || len(p.coef) == 0 {
		return nil, fmt.Errorf("attributes rho and coefficients are required")
	}
	p.allPositive = true
	for _, v := range p.coef {
		p.allPositive = p.allPositive && v >= 0
	}
	vectors := 0
	for i, v := range vpc {
		if v < 0 || v > 1<<30 {
			return nil, fmt.Errorf("attribute vectors_per_class[%d] is %d, want a count >= 0", i, v)
		}
		p.start = append(p.start, vectors)
		p.perClass = append(p.perClass, int(v))
		vectors += int(v)
	}
	if vectors == 0 {
		// Linear mode: one coefficient row per class.
		p.perClass = nil
		if len(p.coef)%p.classes != 0 {
			return nil, fmt.Errorf("attribute coefficients has %d values, want a multiple of %d (classes)", len(p.coef), p.classes)
		}
		p.features = len(p.coef) / p.classes
		return &ops.Kernel{Run: p.run}, nil
	}
	pairs := p.classes * (p.classes - 1) / 2
	switch {
	case len(vpc) != p.classes:
		return nil, fmt.Errorf("attribute vectors_per_class has %d entries, want %d (classes)", len(vpc), p.classes)
	case len(p.sv)%vectors != 0:
		return nil, fmt.Errorf("attribute support_vectors has %d values, want a multiple of %d (vectors)", len(p.sv), vectors)
	case len(p.coef)%vectors != 0 || len(p.coef)/vectors < p.classes-1:
		return nil, fmt.Errorf("attribute coefficients has %d values, want %d rows of %d (classes-1 by vectors)", len(p.coef), p.classes-1, vectors)
	case len(p.rho) < pairs:
		return nil, fmt.Errorf("attribute rho has %d values, want %d (one per pair of classes)", len(p.rho), pairs)
	case len(p.probA) > 0 && (len(p.probA) < pairs || len(p.probB) < pairs):
		return nil, fmt.Errorf("attributes prob_a and prob_b need %d values each (one per pair of classes)", pairs)
	}
	p.features, p.vectors = len(p.sv)/vectors, vectors
	return &ops.Kernel{Run: p.run}, nil
}

func (p *svmClassifier) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x, rows, err := svmRows(in, p.features)
	if err != nil {
		return nil, err
	}
	if _, err := c.New(tensor.Float32, rows, p.classes*p.classes); err != nil {
		return nil, err
	}
	best := make([]int, rows)
	var all []float64
	width := -1
	for r := 0; r < rows; r++ {
		if r%256 == 255 {
			if err := c.Check(); err != nil {
				return nil, err
			}
		}
		scores, label := p.row(x[r*p.features : (r+1)*p.features])
		if width < 0 {
			width = len(scores)
			all = make([]float64, 0, rows*width)
		}
		all = append(all, scores...)
		best[r] = label
	}
	if width < 0 {
		width = p.classes
	}
	return p.lb.withScores(c, best, all, rows, width)
}

// row returns the final scores of one row and its label index.
func (p *svmClassifier) row(x []float64) ([]float64, int) {
	var scores, votes []float64
	if p.perClass == nil {
		lin := svmKernel{kind: "LINEAR"}
		scores = make([]float64, p.classes)
		for j := range scores {
			scores[j] = p.rho[0] + lin.dot(x, p.coef[j*p.features:(j+1)*p.features])
		}
	} else {
		scores, votes = p.oneVsOne(x)
	}
	hasProba := p.perClass != nil && len(p.probA) > 0
	if hasProba {
		scores = p.probabilities(scores)
	}
	ranked := scores
	if votes != nil {
		ranked = votes
	}
	maxClass := 0
	for i, v := range ranked {
		if v > ranked[maxClass] {
			maxClass = i
		}
	}
	maxWeight := 0.0
	if len(ranked) > 0 {
		maxWeight = ranked[maxClass]
	}
	// A single rho marks a binary model; a linear model with more classes
	// shares its one rho and keeps the argmax label.
	label, second := maxClass, -1
	if len(p.rho) == 1 && (p.perClass != nil || p.classes == 2) {
		label, second = p.binaryLabel(maxWeight, maxClass, hasProba)
	}
	return p.finalScores(scores, second), label
}

// oneVsOne returns the pairwise decision values (i < j in order) and the votes.
func (p *svmClassifier) oneVsOne(x []float64) (scores, votes []float64) {
	vectors := p.vectors
	kern := make([]float64, vectors)
	for j := range kern {
		kern[j] = p.k.dot(x, p.sv[j*p.features:(j+1)*p.features])
	}
	coef := func(row, from, n int) []float64 { return p.coef[row*vectors+from : row*vectors+from+n] }
	dot := func(a, b []float64) float64 {
		s := 0.0
		for i, v := range a {
			s += v * b[i]
		}
		return s
	}
	votes = make([]float64, p.classes)
	for i := 0; i < p.classes; i++ {
		si, ni := p.start[i], p.perClass[i]
		for j := i + 1; j < p.classes; j++ {
			sj, nj := p.start[j], p.perClass[j]
			s := p.rho[len(scores)] + dot(coef(j-1, si, ni), kern[si:si+ni]) + dot(coef(i, sj, nj), kern[sj:sj+nj])
			scores = append(scores, s)
			if s > 0 {
				votes[i]++
			} else {
				votes[j]++
			}
		}
	}
	return scores, votes
}

// probabilities couples the pairwise Platt probabilities into class
// probabilities (libsvm's multiclass_probability).
func (p *svmClassifier) probabilities(pair []float64) []float64 {
	k := p.classes
	r := make([]float64, k*k)
	idx := 0
	for i := 0; i < k; i++ {
		for j := i + 1; j < k; j++ {
			v := 1 - logistic(pair[idx]*p.probA[idx]+p.probB[idx])
			v = min(max(v, 1e-7), 1-1e-7)
			r[i*k+j], r[j*k+i] = v, 1-v
			idx++
		}
	}
	q := make([]float64, k*k)
	for t := 0; t < k; t++ {
		for j := 0; j < t; j++ {
			q[t*k+t] += r[j*k+t] * r[j*k+t]
			q[t*k+j] = q[j*k+t]
		}
		for j := t + 1; j < k; j++ {
			q[t*k+t] += r[j*k+t] * r[j*k+t]
			q[t*k+j] = -r[j*k+t] * r[t*k+j]
		}
	}
	prob := make([]float64, k)
	for t := range prob {
		prob[t] = 1 / float64(k)
	}
	qp := make([]float64, k)
	eps := 0.005 / float64(k)
	for iter := 0; iter < max(100, k); iter++ {
		pqp := 0.0
		for t := 0; t < k; t++ {
			qp[t] = 0
			for j := 0; j < k; j++ {
				qp[t] += q[t*k+j] * prob[j]
			}
			pqp += prob[t] * qp[t]
		}
		maxErr := 0.0
		for t := 0; t < k; t++ {
			maxErr = max(maxErr, math.Abs(qp[t]-pqp))
		}
		if maxErr < eps {
			break
		}
		for t := 0; t < k; t++ {
			diff := (-qp[t] + pqp) / q[t*k+t]
			prob[t] += diff
			pqp = (pqp + diff*(diff*q[t*k+t]+2*qp[t])) / ((1 + diff) * (1 + diff))
			for j := 0; j < k; j++ {
				qp[j] = (qp[j] + diff*q[t*k+j]) / (1 + diff)
				prob[j] /= 1 + diff
			}
		}
	}
	return prob
}

// binaryLabel is the label index of a model with a single rho (ONNX
// Runtime's rule) and how the single score expands to two (2) or not (-1).
func (p *svmClassifier) binaryLabel(maxWeight float64, maxClass int, hasProba bool) (int, int) {
	if p.lb.len() == 2 {
		if !hasProba && p.allPositive && maxWeight >= 0.5 {
			return 1, 2
		}
		return maxClass, 2
	}
	if maxWeight > 0 {
		return 1, -1
	}
	return 0, -1
}

// finalScores applies post_transform, expanding a single score to two
// columns as ONNX Runtime does.
func (p *svmClassifier) finalScores(scores []float64, second int) []float64 {
	if len(scores) != 1 {
		postTransform(p.post, scores, len(scores))
		return scores
	}
	s := scores[0]
	switch {
	case p.post == postProbit:
		return []float64{probit(s)}
	case second == 2:
		two := []float64{-s, s}
		postTransform(p.post, two, 2)
		return two
	}
	return []float64{s}
}
