//go:build cgo

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

// api is the function table of the ONNX Runtime library onnxruntime_go has
// already loaded; gort_init fetches it from the same library.
static const OrtApi *api;
#define STR2(x) #x
#define STR(x) STR2(x)
static OrtMemoryInfo *cpu;

static char *dup(const char *s) {
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d) memcpy(d, s, n);
	return d;
}

// status converts an OrtStatus into a malloc'd message and releases it.
static char *status(OrtStatus *st) {
	if (!st) return NULL;
	char *msg = dup(api->GetErrorMessage(st));
	api->ReleaseStatus(st);
	return msg ? msg : dup("onnxruntime error (message lost: out of memory)");
}

char *gort_init(const char *library_path) {
	if (api) return NULL;
	void *h = dlopen(library_path, RTLD_LAZY | RTLD_NOLOAD);
	if (!h) return dup("ONNX Runtime library is not loaded");
	typedef const OrtApiBase *(*get_base_fn)(void);
	get_base_fn get_base = (get_base_fn)dlsym(h, "OrtGetApiBase");
	dlclose(h); // drops the reference NOLOAD took; onnxruntime_go holds its own
	if (!get_base) return dup("OrtGetApiBase not found in the ONNX Runtime library");
	const OrtApi *a = get_base()->GetApi(ORT_API_VERSION);
	if (!a) return dup("the ONNX Runtime library does not support C API version " STR(ORT_API_VERSION) "; install ONNX Runtime 1." STR(ORT_API_VERSION) " or newer");
	OrtMemoryInfo *m = NULL;
	OrtStatus *st = a->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &m);
	if (st) {
		char *msg = dup(a->GetErrorMessage(st));
		a->ReleaseStatus(st);
		return msg;
	}
	cpu = m;
	api = a;
	return NULL;
}

// C API element types after FLOAT4E2M1 (23) differ from onnx.proto's:
// UINT2 = 24, INT2 = 25, FLOAT8E8M0 = 26 against FLOAT8E8M0 = 24, UINT2 = 25,
// INT2 = 26. Some releases (1.30 among them) read the element type given to
// CreateTensorWithDataAsOrtValue as an onnx.proto number while reporting
// C API numbers for tensors they return. gort_wire_inputs tells which: a
// one-byte tensor created as 24 reads back as 26 when inputs take onnx.proto
// numbers, and as 24 when they take C API numbers.
char *gort_wire_inputs(int *wire) {
	static uint8_t byte;
	int64_t shape[1] = {1};
	OrtValue *v = NULL;
	char *err = status(api->CreateTensorWithDataAsOrtValue(cpu, &byte, 1, shape, 1, (ONNXTensorElementDataType)24, &v));
	if (err) return err;
	OrtTensorTypeAndShapeInfo *info = NULL;
	ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
	err = status(api->GetTensorTypeAndShape(v, &info));
	if (!err) {
		err = status(api->GetTensorElementType(info, &et));
		api->ReleaseTensorTypeAndShapeInfo(info);
	}
	api->ReleaseValue(v);
	*wire = et != 24;
	return err;
}

char *gort_available_providers(char **joined) {
	char **names = NULL;
	int n = 0;
	char *err = status(api->GetAvailableProviders(&names, &n));
	if (err) return err;
	size_t len = 1;
	for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
	char *out = malloc(len);
	if (out) {
		out[0] = 0;
		for (int i = 0; i < n; i++) {
			if (i) strcat(out, ",");
			strcat(out, names[i]);
		}
	}
	OrtStatus *st = api->ReleaseAvailableProviders(names, n);
	if (st) api->ReleaseStatus(st);
	*joined = out;
	return out ? NULL : dup("out of memory");
}

// A zero-length tensor still needs a non-NULL data pointer.
static int64_t empty_data;

char *gort_tensor_from_data(void *data, size_t nbytes, const int64_t *shape, size_t rank, int elem_type, OrtValue **out) {
	if (nbytes == 0) data = &empty_data;
	return status(api->CreateTensorWithDataAsOrtValue(cpu, data, nbytes, shape, rank,
	                                                  (ONNXTensorElementDataType)elem_type, out));
}

char *gort_string_tensor(const int64_t *shape, size_t rank, const char *buf, const size_t *offsets, size_t n,
                         OrtValue **out) {
	OrtAllocator *alloc = NULL;
	char *err = status(api->GetAllocatorWithDefaultOptions(&alloc));
	if (err) return err;
	OrtValue *v = NULL;
	err = status(api->CreateTensorAsOrtValue(alloc, shape, rank, ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING, &v));
	if (err) return err;
	for (size_t i = 0; i < n; i++) {
		size_t len = offsets[i + 1] - offsets[i];
		char *dst = NULL;
		err = status(api->GetResizedStringTensorElementBuffer(v, i, len, &dst));
		if (err) {
			api->ReleaseValue(v);
			return err;
		}
		if (len) memcpy(dst, buf + offsets[i], len);
	}
	*out = v;
	return NULL;
}

char *gort_tensor_info(const OrtValue *v, int *onnx_type, int *elem_type, int64_t *dims, size_t max_rank, size_t *rank,
                       void **data) {
	enum ONNXType t;
	char *err = status(api->GetValueType(v, &t));
	if (err) return err;
	*onnx_type = (int)t;
	if (t != ONNX_TYPE_TENSOR) return NULL;
	OrtTensorTypeAndShapeInfo *info = NULL;
	err = status(api->GetTensorTypeAndShape(v, &info));
	if (err) return err;
	ONNXTensorElementDataType et;
	size_t r = 0;
	err = status(api->GetTensorElementType(info, &et));
	if (!err) err = status(api->GetDimensionsCount(info, &r));
	if (!err && r > max_rank) err = dup("output rank exceeds 64");
	if (!err) err = status(api->GetDimensions(info, dims, r));
	api->ReleaseTensorTypeAndShapeInfo(info);
	if (err) return err;
	*elem_type = (int)et;
	*rank = r;
	*data = NULL;
	if (et == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) return NULL;
	return status(api->GetTensorMutableData((OrtValue *)v, data));
}

char *gort_string_length(const OrtValue *v, size_t *len) { return status(api->GetStringTensorDataLength(v, len)); }

char *gort_string_content(const OrtValue *v, void *buf, size_t len, size_t *offsets, size_t n) {
	return status(api->GetStringTensorContent(v, buf, len, offsets, n));
}

void gort_release_value(OrtValue *v) {
	if (v) api->ReleaseValue(v);
}

char *gort_session_counts(const OrtSession *s, size_t *inputs, size_t *outputs) {
	char *err = status(api->SessionGetInputCount(s, inputs));
	if (err) return err;
	return status(api->SessionGetOutputCount(s, outputs));
}

char *gort_run_options(OrtRunOptions **out) { return status(api->CreateRunOptions(out)); }

void gort_terminate(OrtRunOptions *o) {
	OrtStatus *st = api->RunOptionsSetTerminate(o);
	if (st) api->ReleaseStatus(st);
}

void gort_release_run_options(OrtRunOptions *o) {
	if (o) api->ReleaseRunOptions(o);
}

char *gort_run(OrtSession *s, const OrtRunOptions *o, const char *const *in_names, const OrtValue *const *ins, size_t nin,
               const char *const *out_names, size_t nout, OrtValue **outs) {
	return status(api->Run(s, o, in_names, ins, nin, out_names, nout, outs));
}
