/* JNI bridge of ai.nanort.Model: a thin layer over the C API (nanort.h).
 * Every C failure becomes an ai.nanort.NanortException carrying the status
 * and the handle's message. The Java class serializes calls on one model
 * (synchronized), so a handle is never used by two threads at once. */
#include <errno.h>
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nanort.h"

/* A model and, when loaded from part of a file (an APK asset), its mapping. */
typedef struct jni_model {
    nrt_model* model;
    void* map;
    size_t map_bytes;
} jni_model;

static jclass exception_class;   /* ai.nanort.NanortException */
static jmethodID exception_init; /* (int status, String message) */
static jclass info_class;        /* ai.nanort.TensorInfo */
static jmethodID info_init;

static jclass string_class;      /* java.lang.String */
static jmethodID string_from_bytes; /* String(byte[], String charsetName) */
static jstring utf8_name;

/* A Java String of UTF-8 text from the model (names, metadata). NewStringUTF
 * takes modified UTF-8 only (ART's CheckJNI aborts on a 4-byte sequence, as
 * in PP-OCR's character list): anything beyond ASCII goes through String(byte[], "UTF-8"). */
static jstring java_string(JNIEnv* env, const char* s) {
    size_t n = strlen(s);
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (ascii) return (*env)->NewStringUTF(env, s);
    jbyteArray bytes = (*env)->NewByteArray(env, (jsize)n);
    if (!bytes) return NULL;
    (*env)->SetByteArrayRegion(env, bytes, 0, (jsize)n, (const jbyte*)s);
    jstring out = (*env)->NewObject(env, string_class, string_from_bytes, bytes, utf8_name);
    (*env)->DeleteLocalRef(env, bytes);
    return out;
}

static void throw_status(JNIEnv* env, int status, const char* message) {
    if ((*env)->ExceptionCheck(env)) return;
    jstring text = java_string(env, message ? message : nrt_status_name((nrt_status)status));
    if (!text) return; /* OutOfMemoryError pending */
    jobject e = (*env)->NewObject(env, exception_class, exception_init, (jint)status, text);
    if (e) (*env)->Throw(env, (jthrowable)e);
}

/* Throws when st is not NRT_OK; returns 1 when it threw. */
static int check(JNIEnv* env, const jni_model* h, nrt_status st) {
    if (st == NRT_OK) return 0;
    throw_status(env, st, st == NRT_ERR_BUSY || !h ? NULL : nrt_model_error(h->model));
    return 1;
}

static jni_model* handle(JNIEnv* env, jlong h) {
    if (!h) throw_status(env, NRT_ERR_STATE, "the model is closed");
    return (jni_model*)(intptr_t)h;
}

static jlong create(JNIEnv* env, jclass cls, jint threads, jint isa, jlong max_arena_bytes) {
    (void)cls;
    nrt_options o;
    nrt_options_init(&o);
    o.num_threads = threads;
    o.isa = isa;
    if (max_arena_bytes > 0) o.max_arena_bytes = (uint64_t)max_arena_bytes;
    jni_model* h = calloc(1, sizeof *h);
    if (!h) {
        throw_status(env, NRT_ERR_OUT_OF_MEMORY, "out of memory");
        return 0;
    }
    nrt_status st = nrt_model_create(&o, &h->model);
    if (st != NRT_OK) {
        throw_status(env, st, h->model ? nrt_model_error(h->model) : "invalid options (threads must be 1..256)");
        nrt_model_free(h->model);
        free(h);
        return 0;
    }
    return (jlong)(intptr_t)h;
}

static void release(JNIEnv* env, jclass cls, jlong hv) {
    (void)env, (void)cls;
    jni_model* h = (jni_model*)(intptr_t)hv;
    if (!h) return;
    nrt_model_free(h->model);
    if (h->map) munmap(h->map, h->map_bytes);
    free(h);
}

/* path: UTF-8 bytes with a terminating NUL (Java's modified UTF-8 is not a file name). */
static void load_file(JNIEnv* env, jclass cls, jlong hv, jbyteArray path) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return;
    jbyte* p = (*env)->GetByteArrayElements(env, path, NULL);
    if (!p) return;
    nrt_status st = nrt_model_load_file(h->model, (const char*)p);
    (*env)->ReleaseByteArrayElements(env, path, p, JNI_ABORT);
    check(env, h, st);
}

/* In place: the Java object keeps the buffer alive while the model lives. */
static void load_buffer(JNIEnv* env, jclass cls, jlong hv, jobject buffer, jlong offset, jlong size) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return;
    uint8_t* base = (*env)->GetDirectBufferAddress(env, buffer);
    if (!base) {
        throw_status(env, NRT_ERR_INVALID_ARGUMENT, "the model buffer must be a direct ByteBuffer");
        return;
    }
    check(env, h, nrt_model_load_buffer(h->model, base + offset, (size_t)size, 0));
}

/* `length` bytes at `offset` of an open file (an uncompressed APK asset):
 * mapped read-only, weights used in place; the descriptor may be closed after. */
static void load_region(JNIEnv* env, jclass cls, jlong hv, jint fd, jlong offset, jlong length) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return;
    if (h->map || offset < 0 || length <= 0) {
        throw_status(env, h->map ? NRT_ERR_STATE : NRT_ERR_INVALID_ARGUMENT,
                     h->map ? "a model is already loaded in this handle" : "invalid file region");
        return;
    }
    /* mmap offsets are page multiples; 64 KiB is one for every page size Android
     * uses (4 and 16 KiB) and spares sysconf, whose _SC_ numbers differ between C libraries */
    const jlong page = 65536;
    off_t start = (off_t)(offset / page * page);
    size_t lead = (size_t)(offset - start), bytes = lead + (size_t)length;
    void* map = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, fd, start);
    if (map == MAP_FAILED) {
        throw_status(env, NRT_ERR_IO, strerror(errno));
        return;
    }
    nrt_status st = nrt_model_load_buffer(h->model, (uint8_t*)map + lead, (size_t)length, 0);
    if (check(env, h, st)) {
        munmap(map, bytes);
        return;
    }
    h->map = map;
    h->map_bytes = bytes;
}

static jint io_count(JNIEnv* env, jclass cls, jlong hv, jboolean input) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return 0;
    return input ? nrt_model_num_inputs(h->model) : nrt_model_num_outputs(h->model);
}

static jlongArray long_array(JNIEnv* env, const int64_t* values, int n) {
    jlongArray a = (*env)->NewLongArray(env, n);
    if (a && n) (*env)->SetLongArrayRegion(env, a, 0, n, (const jlong*)values);
    return a;
}

static jobject tensor_info(JNIEnv* env, jclass cls, jlong hv, jboolean input, jint index) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return NULL;
    nrt_tensor_info info;
    nrt_status st = input ? nrt_model_input_info(h->model, index, &info) : nrt_model_output_info(h->model, index, &info);
    if (check(env, h, st)) return NULL;
    jstring name = java_string(env, info.name);
    jlongArray dims = long_array(env, info.dims, info.rank);
    jlongArray declared = long_array(env, info.declared_dims, info.rank);
    jobjectArray dim_names = (*env)->NewObjectArray(env, info.rank, string_class, NULL);
    for (int d = 0; dim_names && d < info.rank; d++) {
        jstring s = info.dim_names[d][0] ? java_string(env, info.dim_names[d]) : NULL;
        (*env)->SetObjectArrayElement(env, dim_names, d, s);
    }
    jfloatArray scales = (*env)->NewFloatArray(env, (jsize)info.quant_count);
    jlongArray zero_points = (*env)->NewLongArray(env, (jsize)info.quant_count);
    if (!name || !dims || !declared || !dim_names || !scales || !zero_points) return NULL;
    if (info.quant_count) {
        (*env)->SetFloatArrayRegion(env, scales, 0, (jsize)info.quant_count, info.quant_scale);
        for (uint32_t i = 0; i < info.quant_count; i++) {
            jlong z = info.quant_zero_point ? info.quant_zero_point[i] : 0;
            (*env)->SetLongArrayRegion(env, zero_points, (jsize)i, 1, &z);
        }
    }
    return (*env)->NewObject(env, info_class, info_init, name, (jint)info.dtype, dims, declared, dim_names, scales,
                             zero_points, (jint)info.quant_axis);
}

static jobjectArray metadata(JNIEnv* env, jclass cls, jlong hv) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return NULL;
    int n = nrt_model_num_metadata(h->model);
    jobjectArray out = (*env)->NewObjectArray(env, 2 * n, string_class, NULL);
    for (int i = 0; out && i < n; i++) {
        const char *key, *value;
        if (check(env, h, nrt_model_metadata(h->model, i, &key, &value))) return NULL;
        jstring k = java_string(env, key), v = java_string(env, value);
        if (!k || !v) return NULL;
        (*env)->SetObjectArrayElement(env, out, 2 * i, k);
        (*env)->SetObjectArrayElement(env, out, 2 * i + 1, v);
        (*env)->DeleteLocalRef(env, k);
        (*env)->DeleteLocalRef(env, v);
    }
    return out;
}

static jint format_version(JNIEnv* env, jclass cls, jlong hv) {
    (void)cls;
    jni_model* h = handle(env, hv);
    return h ? (jint)nrt_model_format_version(h->model) : 0;
}

static jstring kernel_level(JNIEnv* env, jclass cls, jlong hv) {
    (void)cls;
    jni_model* h = handle(env, hv);
    return h ? (*env)->NewStringUTF(env, nrt_isa_name(nrt_model_isa(h->model))) : NULL;
}

static void resize_input(JNIEnv* env, jclass cls, jlong hv, jint index, jlongArray dims) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return;
    jsize rank = (*env)->GetArrayLength(env, dims);
    int64_t d[NRT_MAX_RANK];
    if (rank > NRT_MAX_RANK) {
        throw_status(env, NRT_ERR_SHAPE, "rank above NRT_MAX_RANK");
        return;
    }
    (*env)->GetLongArrayRegion(env, dims, 0, rank, (jlong*)d);
    check(env, h, nrt_model_resize_input(h->model, index, (int)rank, d));
}

static void prepare(JNIEnv* env, jclass cls, jlong hv) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (h) check(env, h, nrt_model_prepare(h->model));
}

/* buffer: direct, from its position for `bytes`; NULL unbinds. */
static void bind(JNIEnv* env, jclass cls, jlong hv, jboolean input, jint index, jobject buffer, jint position,
                 jlong bytes) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return;
    uint8_t* p = NULL;
    if (buffer) {
        p = (*env)->GetDirectBufferAddress(env, buffer);
        if (!p) {
            throw_status(env, NRT_ERR_INVALID_ARGUMENT, "bound buffers must be direct ByteBuffers "
                                                        "(ByteBuffer.allocateDirect)");
            return;
        }
        p += position;
    }
    nrt_status st = input ? nrt_model_bind_input(h->model, index, p, (size_t)bytes)
                          : nrt_model_bind_output(h->model, index, p, (size_t)bytes);
    check(env, h, st);
}

static void invoke(JNIEnv* env, jclass cls, jlong hv) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (h) check(env, h, nrt_model_invoke(h->model));
}

/* The primitive array classes and their element sizes (resolved once, JNI_OnLoad). */
static struct {
    const char* sig;
    jlong size;
    jclass cls;
} array_kinds[] = {{"[B", 1, NULL}, {"[Z", 1, NULL}, {"[S", 2, NULL}, {"[C", 2, NULL},
                   {"[I", 4, NULL}, {"[F", 4, NULL}, {"[J", 8, NULL}, {"[D", 8, NULL}};

/* The byte size of a Java primitive array, -1 for anything else. */
static jlong array_bytes(JNIEnv* env, jobject array) {
    if (!array) return -1;
    for (size_t i = 0; i < sizeof array_kinds / sizeof array_kinds[0]; i++)
        if ((*env)->IsInstanceOf(env, array, array_kinds[i].cls))
            return (jlong)(*env)->GetArrayLength(env, (jarray)array) * array_kinds[i].size;
    return -1;
}

/* Refuses a copy of `bytes` that the array cannot hold or that differs
 * from the tensor's size: the copies below trust neither caller nor array. */
static int check_copy(JNIEnv* env, jobject array, jlong bytes, size_t tensor_bytes, const char* what, jint index) {
    jlong have = array_bytes(env, array);
    char msg[160];
    if (have < 0)
        snprintf(msg, sizeof msg, "%s %d: expected a primitive array", what, (int)index);
    else if (bytes < 0 || (uint64_t)bytes != tensor_bytes || bytes > have)
        snprintf(msg, sizeof msg, "%s %d: %lld bytes asked, the tensor has %zu and the array %lld", what, (int)index,
                 (long long)bytes, tensor_bytes, (long long)have);
    else
        return 1;
    throw_status(env, NRT_ERR_INVALID_ARGUMENT, msg);
    return 0;
}

/* A Java primitive array's bytes into input `index` (prepared). */
static void copy_in(JNIEnv* env, jclass cls, jlong hv, jint index, jobject array, jlong bytes) {
    (void)cls;
    jni_model* h = handle(env, hv);
    nrt_tensor_info info;
    if (!h || check(env, h, nrt_model_input_info(h->model, index, &info)) ||
        !check_copy(env, array, bytes, info.bytes, "input", index))
        return;
    void* src = (*env)->GetPrimitiveArrayCritical(env, array, NULL);
    if (!src) return;
    nrt_status st = nrt_model_set_input(h->model, index, src, (size_t)bytes);
    (*env)->ReleasePrimitiveArrayCritical(env, array, src, JNI_ABORT);
    check(env, h, st);
}

/* Output `index` into a Java primitive array of exactly its byte size. */
static void copy_out(JNIEnv* env, jclass cls, jlong hv, jint index, jobject array, jlong bytes) {
    (void)cls;
    jni_model* h = handle(env, hv);
    nrt_tensor_info info;
    if (!h || check(env, h, nrt_model_output_info(h->model, index, &info)) ||
        !check_copy(env, array, bytes, info.bytes, "output", index))
        return;
    const void* src = nrt_model_output_data(h->model, index);
    if (!src && bytes) {
        throw_status(env, NRT_ERR_STATE, "no output data: run the model first");
        return;
    }
    void* dst = (*env)->GetPrimitiveArrayCritical(env, array, NULL);
    if (!dst) return;
    memcpy(dst, src, (size_t)bytes);
    (*env)->ReleasePrimitiveArrayCritical(env, array, dst, 0);
}

static void set_profiling(JNIEnv* env, jclass cls, jlong hv, jboolean enable) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (h) check(env, h, nrt_model_set_profiling(h->model, enable));
}

/* Per node: op type, name, calls, total ns, as parallel arrays in `out` (String[], String[], long[], long[]). */
static jobjectArray profile(JNIEnv* env, jclass cls, jlong hv) {
    (void)cls;
    jni_model* h = handle(env, hv);
    if (!h) return NULL;
    int n = nrt_model_num_nodes(h->model);
    jclass object_class = (*env)->FindClass(env, "java/lang/Object");
    if (!object_class) return NULL;
    jobjectArray ops = (*env)->NewObjectArray(env, n, string_class, NULL);
    jobjectArray names = (*env)->NewObjectArray(env, n, string_class, NULL);
    jlongArray calls = (*env)->NewLongArray(env, n), ns = (*env)->NewLongArray(env, n);
    jobjectArray out = (*env)->NewObjectArray(env, 4, object_class, NULL);
    if (!ops || !names || !calls || !ns || !out) return NULL;
    for (int i = 0; i < n; i++) {
        nrt_node_profile p;
        if (check(env, h, nrt_model_node_profile(h->model, i, &p))) return NULL;
        jstring op = java_string(env, p.op_type), name = java_string(env, p.name);
        if (!op || !name) return NULL;
        (*env)->SetObjectArrayElement(env, ops, i, op);
        (*env)->SetObjectArrayElement(env, names, i, name);
        (*env)->DeleteLocalRef(env, op);
        (*env)->DeleteLocalRef(env, name);
        jlong c = (jlong)p.calls, t = (jlong)p.total_ns;
        (*env)->SetLongArrayRegion(env, calls, i, 1, &c);
        (*env)->SetLongArrayRegion(env, ns, i, 1, &t);
    }
    (*env)->SetObjectArrayElement(env, out, 0, ops);
    (*env)->SetObjectArrayElement(env, out, 1, names);
    (*env)->SetObjectArrayElement(env, out, 2, calls);
    (*env)->SetObjectArrayElement(env, out, 3, ns);
    return out;
}

static jstring version(JNIEnv* env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, nrt_version());
}

static jint best_isa(JNIEnv* env, jclass cls) {
    (void)env, (void)cls;
    return (jint)nrt_cpu_best_isa();
}

static jint level_count(JNIEnv* env, jclass cls) {
    (void)env, (void)cls;
    return (jint)nrt_isa_count();
}

static jstring level_name(JNIEnv* env, jclass cls, jint level) {
    (void)cls;
    return (*env)->NewStringUTF(env, nrt_isa_name((nrt_isa)level));
}

static jint level_number(JNIEnv* env, jclass cls, jstring name) {
    (void)cls;
    const char* s = (*env)->GetStringUTFChars(env, name, NULL);
    if (!s) return NRT_ISA_UNKNOWN; /* OutOfMemoryError pending */
    int level = nrt_isa_from_name(s);
    (*env)->ReleaseStringUTFChars(env, name, s);
    return (jint)level;
}

static const JNINativeMethod methods[] = {
    {"nativeCreate", "(IIJ)J", (void*)create},
    {"nativeFree", "(J)V", (void*)release},
    {"nativeLoadFile", "(J[B)V", (void*)load_file},
    {"nativeLoadBuffer", "(JLjava/nio/ByteBuffer;JJ)V", (void*)load_buffer},
    {"nativeLoadRegion", "(JIJJ)V", (void*)load_region},
    {"nativeCount", "(JZ)I", (void*)io_count},
    {"nativeTensorInfo", "(JZI)Lai/nanort/TensorInfo;", (void*)tensor_info},
    {"nativeMetadata", "(J)[Ljava/lang/String;", (void*)metadata},
    {"nativeFormatVersion", "(J)I", (void*)format_version},
    {"nativeKernelLevel", "(J)Ljava/lang/String;", (void*)kernel_level},
    {"nativeResizeInput", "(JI[J)V", (void*)resize_input},
    {"nativePrepare", "(J)V", (void*)prepare},
    {"nativeBind", "(JZILjava/nio/ByteBuffer;IJ)V", (void*)bind},
    {"nativeInvoke", "(J)V", (void*)invoke},
    {"nativeCopyIn", "(JILjava/lang/Object;J)V", (void*)copy_in},
    {"nativeCopyOut", "(JILjava/lang/Object;J)V", (void*)copy_out},
    {"nativeSetProfiling", "(JZ)V", (void*)set_profiling},
    {"nativeProfile", "(J)[Ljava/lang/Object;", (void*)profile},
    {"nativeVersion", "()Ljava/lang/String;", (void*)version},
    {"nativeBestKernelLevel", "()I", (void*)best_isa},
    {"nativeLevelCount", "()I", (void*)level_count},
    {"nativeLevelName", "(I)Ljava/lang/String;", (void*)level_name},
    {"nativeLevelNumber", "(Ljava/lang/String;)I", (void*)level_number},
};

static jclass global_class(JNIEnv* env, const char* name) {
    jclass local = (*env)->FindClass(env, name);
    if (!local) return NULL;
    jclass global = (*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return global;
}

JNIEXPORT jint JNI_OnLoad(JavaVM* vm, void* reserved) {
    (void)reserved;
    JNIEnv* env;
    if ((*vm)->GetEnv(vm, (void**)&env, JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
    jclass model = (*env)->FindClass(env, "ai/nanort/Model");
    if (!model || (*env)->RegisterNatives(env, model, methods, sizeof methods / sizeof *methods) != 0) return JNI_ERR;
    jstring utf8 = (*env)->NewStringUTF(env, "UTF-8");
    if (!(string_class = global_class(env, "java/lang/String")) ||
        !(string_from_bytes = (*env)->GetMethodID(env, string_class, "<init>", "([BLjava/lang/String;)V")) || !utf8 ||
        !(utf8_name = (*env)->NewGlobalRef(env, utf8)) ||
        !(exception_class = global_class(env, "ai/nanort/NanortException")) ||
        !(exception_init = (*env)->GetMethodID(env, exception_class, "<init>", "(ILjava/lang/String;)V")) ||
        !(info_class = global_class(env, "ai/nanort/TensorInfo")) ||
        !(info_init = (*env)->GetMethodID(env, info_class, "<init>",
                                         "(Ljava/lang/String;I[J[J[Ljava/lang/String;[F[JI)V")))
        return JNI_ERR;
    for (size_t i = 0; i < sizeof array_kinds / sizeof array_kinds[0]; i++)
        if (!(array_kinds[i].cls = global_class(env, array_kinds[i].sig))) return JNI_ERR;
    return JNI_VERSION_1_6;
}
