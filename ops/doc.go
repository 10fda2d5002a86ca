// Package ops defines the operator contract and the registry that finds a
// schema by (domain, type, opset).
//
// # Overview
//
// Each operator schema version is one declared *Op value: its domain, type
// and since-version, a doc line, an optional type inference function and a
// Compile function. Compile runs once per node when a session is built: it
// reads and validates the attributes and returns a Kernel, which runs on
// every Session.Run. Kernels never modify inputs and allocate outputs with
// Ctx.New, which enforces the session's size limit. Compile also sees the
// inputs that are constants (Node.Constants, the initializers) and may do
// the work that depends only on them once: ops/nn packs a constant float32
// weight matrix for the GEMM at compile time.
//
// Families live in sub-packages (ops/elementwise, ops/shape, ops/reduce,
// ops/activation, ops/nn, ops/norm, ops/attention, ops/loss, ops/control,
// ops/sequence), each with an Ops() list; ops/all joins the lists into the
// native provider's registry. There is no init() registration.
//
// ops never imports the protobuf types or the IR: graph attributes reach a
// kernel as opaque values that the runtime compiles (Node.Subgraph).
package ops
