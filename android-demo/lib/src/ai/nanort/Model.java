package ai.nanort;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A loaded .nrt model (nanort's C runtime through JNI).
 *
 * <pre>
 * try (Model m = Model.fromFile("/data/local/tmp/det.nrt", new Model.Options().threads(2))) {
 *     ByteBuffer in = ByteBuffer.allocateDirect((int) m.input(0).byteSize()).order(ByteOrder.nativeOrder());
 *     ByteBuffer out = ByteBuffer.allocateDirect((int) m.output(0).byteSize()).order(ByteOrder.nativeOrder());
 *     ... fill in ...
 *     m.run(new ByteBuffer[] {in}, new ByteBuffer[] {out});   // no copies: the runtime reads in, writes out
 * }
 * </pre>
 *
 * Inputs and outputs are bound to caller memory (direct ByteBuffers in native
 * byte order, zero copy) or passed as Java arrays ({@link #run(Object...)},
 * one copy each way). Every failure of the C runtime is a {@link NanortException}
 * carrying its message. Calls on one Model are serialized; give each thread
 * its own Model to run in parallel.
 */
public final class Model implements AutoCloseable {
    static {
        System.loadLibrary("nanort_jni");
    }

    /** Kernel levels (nanort.h nrt_isa), by the C library's names (libraryKernelLevels());
     *  AUTO picks the best this CPU has. */
    public enum KernelLevel {
        AUTO, REF, AVX2, AVX512, AVX512VBMI, NEON, DOTPROD, I8MM;

        /** The library's name of the level ("ref", "avx512vbmi", "i8mm", ...). */
        public String levelName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static KernelLevel fromName(String name) {
            return valueOf(name.toUpperCase(java.util.Locale.ROOT));
        }

        /** The library's number of the level (nrt_isa_from_name). */
        int code() {
            int code = nativeLevelNumber(levelName());
            if (code == LEVEL_UNKNOWN) {
                throw new IllegalArgumentException("this library has no kernel level " + levelName());
            }
            return code;
        }
    }

    private static final int LEVEL_UNKNOWN = -2; // NRT_ISA_UNKNOWN

    /** Load options: worker threads, kernel level, activation memory limit. */
    public static final class Options {
        int threads = 1;
        KernelLevel kernelLevel = KernelLevel.AUTO;
        long maxArenaBytes = 0;

        public Options threads(int threads) {
            this.threads = threads;
            return this;
        }

        public Options kernelLevel(KernelLevel level) {
            this.kernelLevel = level;
            return this;
        }

        /** Refuse to plan more activation memory than this (0: the runtime's default, 4 GiB). */
        public Options maxArenaBytes(long bytes) {
            this.maxArenaBytes = bytes;
            return this;
        }
    }

    private long handle;
    private final int numInputs, numOutputs;
    private final ByteBuffer[] boundInputs, boundOutputs; // kept reachable while the runtime uses their memory
    private ByteBuffer modelBuffer;                       // fromBuffer: the weights are used in place

    private Model(long handle) {
        this.handle = handle;
        this.numInputs = nativeCount(handle, true);
        this.numOutputs = nativeCount(handle, false);
        this.boundInputs = new ByteBuffer[numInputs];
        this.boundOutputs = new ByteBuffer[numOutputs];
    }

    private interface Loader {
        void load(long handle);
    }

    private static Model create(Options options, Loader loader) {
        Options o = options != null ? options : new Options();
        long h = nativeCreate(o.threads, o.kernelLevel.code(), o.maxArenaBytes);
        try {
            loader.load(h);
            return new Model(h);
        } catch (RuntimeException e) {
            nativeFree(h);
            throw e;
        }
    }

    /** Memory-maps the file; the weights are used in place. */
    public static Model fromFile(String path, Options options) {
        return create(options, new Loader() {
            @Override
            public void load(long h) {
                nativeLoadFile(h, (path + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        });
    }

    /**
     * The model in a direct ByteBuffer (from its position to its limit), used
     * in place: the buffer must not change while the Model lives (it is kept
     * reachable). Weights need the bytes 64-byte aligned; otherwise they are copied.
     */
    public static Model fromBuffer(ByteBuffer buffer, Options options) {
        if (!buffer.isDirect()) throw new NanortException(1, "the model buffer must be a direct ByteBuffer");
        Model m = create(options, new Loader() {
            @Override
            public void load(long h) {
                nativeLoadBuffer(h, buffer, buffer.position(), buffer.remaining());
            }
        });
        m.modelBuffer = buffer;
        return m;
    }

    /**
     * {@code length} bytes at {@code offset} of an open file, memory-mapped (an
     * uncompressed APK asset: {@code AssetFileDescriptor}'s descriptor, start
     * offset and length; see {@link AndroidAssets}). The descriptor may be
     * closed once this returns.
     */
    public static Model fromFileRegion(int fd, long offset, long length, Options options) {
        return create(options, new Loader() {
            @Override
            public void load(long h) {
                nativeLoadRegion(h, fd, offset, length);
            }
        });
    }

    // ---- description ---------------------------------------------------------

    public int inputCount() {
        return numInputs;
    }

    public int outputCount() {
        return numOutputs;
    }

    public synchronized TensorInfo input(int index) {
        return nativeTensorInfo(live(), true, index);
    }

    public synchronized TensorInfo output(int index) {
        return nativeTensorInfo(live(), false, index);
    }

    public TensorInfo[] inputs() {
        TensorInfo[] out = new TensorInfo[numInputs];
        for (int i = 0; i < numInputs; i++) out[i] = input(i);
        return out;
    }

    public TensorInfo[] outputs() {
        TensorInfo[] out = new TensorInfo[numOutputs];
        for (int i = 0; i < numOutputs; i++) out[i] = output(i);
        return out;
    }

    /** Key / value strings stored in the file (PP-OCR's recognizer: its characters under "character"). */
    public synchronized Map<String, String> metadata() {
        String[] flat = nativeMetadata(live());
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i + 1 < flat.length; i += 2) out.put(flat[i], flat[i + 1]);
        return out;
    }

    /** The .nrt file-format version. */
    public synchronized int formatVersion() {
        return nativeFormatVersion(live());
    }

    /** The kernel level this model runs with ("dotprod", "neon", "avx512", ...). */
    public synchronized String kernelLevel() {
        return nativeKernelLevel(live());
    }

    /** The best kernel level this CPU runs. */
    public static KernelLevel bestKernelLevel() {
        return KernelLevel.fromName(nativeLevelName(nativeBestKernelLevel()));
    }

    /** The names of the C library's kernel levels, the reference first. */
    public static String[] libraryKernelLevels() {
        String[] names = new String[nativeLevelCount()];
        for (int i = 0; i < names.length; i++) names[i] = nativeLevelName(i);
        return names;
    }

    public static String runtimeVersion() {
        return nativeVersion();
    }

    // ---- shapes and binding ----------------------------------------------------

    /** Sets an input's shape (dynamic dimensions); the next run re-plans. */
    public synchronized void resizeInput(int index, long... dims) {
        nativeResizeInput(live(), index, dims);
    }

    /** Plans memory for the current input shapes now (run does it when needed); output shapes are known after. */
    public synchronized void prepare() {
        nativePrepare(live());
    }

    /**
     * Zero-copy input: every run reads input {@code index} from this direct
     * buffer (native byte order, position to limit = the input's byte size)
     * until it is bound again or unbound (null).
     */
    public synchronized void bindInput(int index, ByteBuffer buffer) {
        bind(true, index, buffer);
    }

    /** Zero-copy output: every run writes output {@code index} into this direct buffer. */
    public synchronized void bindOutput(int index, ByteBuffer buffer) {
        bind(false, index, buffer);
    }

    private void bind(boolean input, int index, ByteBuffer buffer) {
        ByteBuffer[] bound = input ? boundInputs : boundOutputs;
        if (index < 0 || index >= bound.length)
            throw new NanortException(1, (input ? "input" : "output") + " index " + index + " is out of range (model has "
                                      + bound.length + ")");
        if (buffer != null && !buffer.isDirect())
            throw new NanortException(1, "bound buffers must be direct ByteBuffers (ByteBuffer.allocateDirect)");
        if (buffer != null && buffer.isReadOnly() && !input)
            throw new NanortException(1, "the buffer bound to output " + index + " is read-only");
        nativeBind(live(), input, index, buffer, buffer == null ? 0 : buffer.position(),
                   buffer == null ? 0 : buffer.remaining());
        bound[index] = buffer;
    }

    // ---- running ----------------------------------------------------------------

    /** Runs with the bound inputs and outputs. */
    public synchronized void run() {
        nativeInvoke(live());
    }

    /** Binds these direct buffers (null entries: keep the current binding) and runs: no copies. */
    public synchronized void run(ByteBuffer[] inputs, ByteBuffer[] outputs) {
        for (int i = 0; inputs != null && i < inputs.length; i++)
            if (inputs[i] != null) bind(true, i, inputs[i]);
        for (int i = 0; outputs != null && i < outputs.length; i++)
            if (outputs[i] != null) bind(false, i, outputs[i]);
        nativeInvoke(live());
    }

    /**
     * Convenience run: one Java array per input (float[] for FLOAT32, byte[] for
     * INT8 / UINT8 / BOOL, short[] for INT16 / FLOAT16, int[], long[], double[]),
     * of the input's current shape, copied in; returns a new array per output
     * (same mapping; {@link #output} gives its shape). Inputs bound to buffers
     * must be passed as null.
     */
    public synchronized Object[] run(Object... inputs) {
        long h = live();
        if (inputs.length != numInputs)
            throw new NanortException(1, "run takes " + numInputs + " input arrays, got " + inputs.length);
        nativePrepare(h);
        for (int i = 0; i < numInputs; i++) {
            if (inputs[i] == null) {
                if (boundInputs[i] == null) throw new NanortException(1, "input " + i + " is null and not bound");
                continue;
            }
            TensorInfo info = nativeTensorInfo(h, true, i);
            checkArray(inputs[i], info, "input");
            nativeCopyIn(h, i, inputs[i], info.byteSize());
        }
        nativeInvoke(h);
        Object[] out = new Object[numOutputs];
        for (int i = 0; i < numOutputs; i++) {
            TensorInfo info = nativeTensorInfo(h, false, i);
            out[i] = newArray(info.dtype, (int) info.elementCount());
            nativeCopyOut(h, i, out[i], info.byteSize());
        }
        return out;
    }

    private static Class<?> arrayClass(DataType t) {
        switch (t) {
            case FLOAT32: return float[].class;
            case FLOAT64: return double[].class;
            case INT8: case UINT8: case BOOL: return byte[].class;
            case INT16: case FLOAT16: return short[].class;
            case INT32: return int[].class;
            case INT64: return long[].class;
            default: throw new NanortException(4, "no Java array type for " + t);
        }
    }

    private static Object newArray(DataType t, int n) {
        return java.lang.reflect.Array.newInstance(arrayClass(t).getComponentType(), n);
    }

    private static void checkArray(Object array, TensorInfo info, String what) {
        if (array.getClass() != arrayClass(info.dtype))
            throw new NanortException(6, what + " " + info.name + " is " + info.dtype + ": pass a "
                                      + arrayClass(info.dtype).getSimpleName() + ", got "
                                      + array.getClass().getSimpleName());
        long n = info.elementCount();
        if (java.lang.reflect.Array.getLength(array) != n)
            throw new NanortException(5, what + " " + info.name + " holds " + n + " elements at its current shape, got "
                                      + java.lang.reflect.Array.getLength(array));
    }

    // ---- profile ------------------------------------------------------------------

    /** Start (and reset) or stop timing every operator during runs. */
    public synchronized void setProfiling(boolean enable) {
        nativeSetProfiling(live(), enable);
    }

    /** Milliseconds per operator type over the profiled runs, slowest first. */
    public synchronized Map<String, Double> profileByOpType() {
        Object[] p = nativeProfile(live());
        String[] ops = (String[]) p[0];
        long[] ns = (long[]) p[3];
        final Map<String, Double> totals = new LinkedHashMap<>();
        for (int i = 0; i < ops.length; i++) {
            Double sum = totals.get(ops[i]);
            totals.put(ops[i], (sum == null ? 0 : sum) + ns[i] / 1e6);
        }
        java.util.List<String> order = new java.util.ArrayList<>(totals.keySet());
        java.util.Collections.sort(order, new java.util.Comparator<String>() {
            @Override
            public int compare(String a, String b) {
                return Double.compare(totals.get(b), totals.get(a));
            }
        });
        Map<String, Double> sorted = new LinkedHashMap<>();
        for (String op : order) sorted.put(op, totals.get(op));
        return sorted;
    }

    // ---- lifetime -------------------------------------------------------------

    private long live() {
        if (handle == 0) throw new NanortException(9, "the model is closed");
        return handle;
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            nativeFree(handle);
            handle = 0;
            modelBuffer = null;
            java.util.Arrays.fill(boundInputs, null);
            java.util.Arrays.fill(boundOutputs, null);
        }
    }

    private static native long nativeCreate(int threads, int isa, long maxArenaBytes);
    private static native void nativeFree(long handle);
    private static native void nativeLoadFile(long handle, byte[] utf8Path);
    private static native void nativeLoadBuffer(long handle, ByteBuffer buffer, long offset, long size);
    private static native void nativeLoadRegion(long handle, int fd, long offset, long length);
    private static native int nativeCount(long handle, boolean inputs);
    private static native TensorInfo nativeTensorInfo(long handle, boolean input, int index);
    private static native String[] nativeMetadata(long handle);
    private static native int nativeFormatVersion(long handle);
    private static native String nativeKernelLevel(long handle);
    private static native void nativeResizeInput(long handle, int index, long[] dims);
    private static native void nativePrepare(long handle);
    private static native void nativeBind(long handle, boolean input, int index, ByteBuffer buffer, int position,
                                          long bytes);
    private static native void nativeInvoke(long handle);
    private static native void nativeCopyIn(long handle, int index, Object array, long bytes);
    private static native void nativeCopyOut(long handle, int index, Object array, long bytes);
    private static native void nativeSetProfiling(long handle, boolean enable);
    private static native Object[] nativeProfile(long handle);
    private static native String nativeVersion();
    private static native int nativeBestKernelLevel();
    private static native int nativeLevelCount();
    private static native String nativeLevelName(int level);
    private static native int nativeLevelNumber(String name);
}
