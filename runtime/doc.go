// Package runtime compiles a model once into a Session and runs it many
// times, concurrently and cancellably, on a Provider.
//
// # Overview
//
//	sess, err := runtime.NewSession(model, runtime.Options{})
//	out, err := sess.Run(ctx, map[string]*tensor.Tensor{"x": x})
//
// The native provider (Native) runs gort's Go kernels: it orders the nodes,
// compiles each node's kernel once, binds every value to a slot, and frees
// intermediates after their last reader. Subgraphs (If, Loop, Scan bodies)
// are compiled as nested plans that capture values of enclosing scopes.
// Initializers that no graph input overrides are constants: kernels see
// them at compile time (ops.Node.Constants) and may precompute from them,
// as MatMul and Gemm pack a float32 weight matrix once, so a session reads
// each initializer's values when it is created and a caller must not
// change them afterwards. A kernel that needs no more than what it
// precomputed lists the input in ops.Kernel.Precomputed; the session then
// passes it nil there and keeps no reference to a constant that nothing
// else reads. The session keeps none to the model either, and never
// changes or frees the caller's tensors: a caller that lets the model go
// after NewSession (as generate.Load and `gort run` do) holds each packed
// weight once, where one that keeps the model holds it twice. Each run recycles the buffers of dead values
// (arena.go) and tells a kernel which inputs it may write in place
// (ops.Ctx.Reusable: an intermediate at its last use that no other value
// shares; ops.Ctx.Extendable: also a donated feed, WithDonated, which may
// only be written where it holds no valid content, as a KV cache shared by
// past and present gains its new rows). Buffers are kept by size class
// (an eighth apart), so that a value growing by a row per decode step
// finds last step's buffer most steps. A recycled buffer comes back with
// the tensor header the arena made for it, refitted to the new shape (a
// free buffer whose header has the length asked for already is taken
// first: a header refitted to another length boxes a new slice); the
// headers of views (ops.Ctx.View) are recycled from run to run too. A
// header is reused only once no slot holds its buffer, never for a graph
// output or a feed, so kernels (which keep no tensor across runs) and
// callers cannot tell. Kernels keep per-node plans for the shapes they
// last saw and return their outputs through ops.Ctx.Result.
//
// A caller may bind its own tensors to outputs (WithOutputs, like ONNX
// Runtime's IOBinding): the node making a bound output writes into the
// bound tensor (the arena hands it to that node's New), else the run copies
// the output there once. With its outputs bound and RunInto filling a map
// the caller reuses, a steady-state run allocates nothing; a decode step
// of a KV-cached model allocates only for the values whose length grows
// (a boxed slice header each, and an array when one outgrows its class).
//
// Package runtime/ort delegates to ONNX Runtime through cgo; it is the only
// cgo in gort, so CGO_ENABLED=0 builds a working native runtime.
//
// Feeds are checked against the declared input types before running, and a
// panic inside a kernel is returned as an error wrapping ErrInternal rather
// than crashing the caller.
package runtime
