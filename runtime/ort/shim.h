// The parts of the ONNX Runtime C API that onnxruntime_go does not expose in
// a form gort can use: tensors of any rank (scalars included) and any dtype
// built from Go memory, runs that name their inputs per call, outputs that
// ORT allocates, and cancellation. Every function returns NULL on success or
// a malloc'd error message the caller frees.
#ifndef GORT_ORT_SHIM_H
#define GORT_ORT_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "include/onnxruntime_c_api.h"

char *gort_init(const char *library_path);
char *gort_wire_inputs(int *wire);
char *gort_available_providers(char **joined);
char *gort_tensor_from_data(void *data, size_t nbytes, const int64_t *shape, size_t rank, int elem_type, OrtValue **out);
char *gort_string_tensor(const int64_t *shape, size_t rank, const char *buf, const size_t *offsets, size_t n, OrtValue **out);
char *gort_tensor_info(const OrtValue *v, int *onnx_type, int *elem_type, int64_t *dims, size_t max_rank, size_t *rank, void **data);
char *gort_string_length(const OrtValue *v, size_t *len);
char *gort_string_content(const OrtValue *v, void *buf, size_t len, size_t *offsets, size_t n);
void gort_release_value(OrtValue *v);
char *gort_session_counts(const OrtSession *s, size_t *inputs, size_t *outputs);
char *gort_run_options(OrtRunOptions **out);
void gort_terminate(OrtRunOptions *o);
void gort_release_run_options(OrtRunOptions *o);
char *gort_run(OrtSession *s, const OrtRunOptions *o, const char *const *in_names, const OrtValue *const *ins, size_t nin,
               const char *const *out_names, size_t nout, OrtValue **outs);

#endif
