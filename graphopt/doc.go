// Package graphopt rewrites ONNX graphs into equivalent, faster ones: an
// ordered list of passes (shape inference, constant folding, dead-code and
// common-subexpression elimination, Transpose/Reshape folding and operator
// fusions) that return patches applied by one driver.
//
// # Overview
//
// A Pass looks at a graph and returns Patches; it never edits the graph.
// A Patch removes a set of nodes and inserts replacement nodes, optionally
// adding initializers, value_info and value renames. The driver applies a
// pass's patches atomically, sorts the graph, validates it
// (ir.Graph.Validate) and reverts the whole pass when the result is
// invalid, so a buggy rewrite costs speed, never correctness of structure.
// Passes() is the explicit ordered list; each pass names the passes it must
// follow and a test checks the list against those constraints, as the Go
// compiler checks its SSA pass list.
//
// Optimize runs the list to a fixed point on a copy of the model. Level
// Basic runs only rewrites into standard ONNX ops of the model's opset
// (folding, DCE, CSE, Transpose/Reshape folding, addmm-style Gemm back to
// MatMul+Add); level Extended adds the fusions (LayerNormalization, Gelu,
// BiasGelu, FastGelu, SkipLayerNormalization, EmbedLayerNormalization,
// MatMul+Add into Gemm, MatMul of a transposed constant matrix into
// FusedMatMul, BERT/ViT and GPT-2 causal attention, and decoder attention
// under any additive mask, with or without a Concat KV cache whose present
// outputs the fused MultiHeadAttention then makes), which emit
// standard ops where the model's opset has them and ONNX Runtime's
// com.microsoft contrib ops otherwise, and only ops that Options.Supported
// accepts (by default: those gort's native provider implements), so the
// optimized model still runs natively and in ONNX Runtime.
//
// Shape inference runs the ops' own inference plus symbolic rules here
// that keep named dimensions (batch, sequence) through Reshape, Split and
// broadcasting, and follows shape values (Shape, Gather, Slice, Concat), so
// that x.view(x.size()[:-1] + (heads, size)) in PyTorch exports gets a
// constant target and a GPT-2 causal mask sliced by key and query lengths
// is recognized. Only types from those rules are written as value_info.
//
// Fusions assume what ONNX Runtime's fusions assume: attention masks hold
// 0 and 1 only, token ids are in range. Outputs at positions whose query
// sees no key at all (left padding) may differ from the unfused graph's.
// Every pass is checked by tests that run the optimized and the
// unoptimized graph (the native session with NoOptimize) on random inputs.
package graphopt
