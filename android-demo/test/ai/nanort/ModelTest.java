package ai.nanort;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.FileDescriptor;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.util.Map;

import org.junit.Test;

/**
 * ai.nanort.Model through JNI on the library the build made (the AAR's
 * x86_64 library on the host JVM, the APK's arm64 one on an arm64 JVM under
 * qemu). Models come from android-demo/tools/make_test_models.py (system
 * property nanort.models); expected values are computed here, in Java.
 */
public class ModelTest {
    static final File MODELS = new File(System.getProperty("nanort.models", "build/test-models"));

    static String model(String name) {
        return new File(MODELS, name).getPath();
    }

    static float sigmoidTanh(float x) {
        return (float) Math.tanh(1 / (1 + Math.exp(-x)));
    }

    static ByteBuffer direct(long bytes) {
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }

    @Test
    public void describesTheModel() {
        try (Model m = Model.fromFile(model("sigmoid_tanh.nrt"), null)) {
            assertEquals(1, m.inputCount());
            TensorInfo in = m.input(0);
            assertEquals("x", in.name);
            assertEquals(DataType.FLOAT32, in.dtype);
            assertArrayEquals(new long[] {-1, 6}, in.declaredShape);
            assertEquals("N", in.dimNames[0]);
            assertNull(in.dimNames[1]);
            assertTrue(!in.isQuantized());
            Map<String, String> meta = m.metadata();
            assertEquals("a\nb\nc\n\uD840\uDC00\n\uD834\uDD1E", meta.get("character")); // U+20000, U+1D11E
            assertEquals("nanort tests", meta.get("author"));
            assertTrue(m.formatVersion() >= 1);
            assertEquals(Model.bestKernelLevel().name().toLowerCase(java.util.Locale.ROOT), m.kernelLevel());
        }
    }

    @Test
    public void convenienceRunMatchesJava() {
        try (Model m = Model.fromFile(model("sigmoid_tanh.nrt"), new Model.Options().threads(2))) {
            m.resizeInput(0, 3, 6);
            float[] x = new float[18];
            for (int i = 0; i < x.length; i++) x[i] = (i - 9) * 0.37f;
            float[] y = (float[]) m.run((Object) x)[0];
            assertArrayEquals(new long[] {3, 6}, m.output(0).shape);
            for (int i = 0; i < x.length; i++) assertEquals(sigmoidTanh(x[i]), y[i], 2e-6f);
        }
    }

    @Test
    public void boundBuffersAreReadAndWrittenInPlace() {
        try (Model m = Model.fromFile(model("sigmoid_tanh.nrt"), null)) {
            m.resizeInput(0, 2, 6);
            ByteBuffer in = direct(48), out = direct(48);
            FloatBuffer x = in.asFloatBuffer(), y = out.asFloatBuffer();
            for (int i = 0; i < 12; i++) x.put(i, i * 0.5f - 3);
            m.run(new ByteBuffer[] {in}, new ByteBuffer[] {out});
            for (int i = 0; i < 12; i++) assertEquals(sigmoidTanh(i * 0.5f - 3), y.get(i), 2e-6f);
            // bound, not copied: new values in the same buffer show up in the next run
            for (int i = 0; i < 12; i++) x.put(i, -i * 0.25f);
            m.run();
            for (int i = 0; i < 12; i++) {
                assertEquals(sigmoidTanh(-i * 0.25f), y.get(i), 2e-6f);
                assertEquals(-i * 0.25f, x.get(i), 0f); // never written
            }
            try {
                m.bindInput(0, direct(40));
                fail("a buffer of the wrong size");
            } catch (NanortException e) {
                assertEquals("SHAPE", e.statusName());
                assertTrue(e.getMessage(), e.getMessage().contains("takes 48 bytes"));
            }
        }
    }

    @Test
    public void uint8IoModelGivesTheFloatModelsResults() {
        try (Model f = Model.fromFile(model("conv_int8_float32.nrt"), null);
             Model u = Model.fromFile(model("conv_int8_uint8.nrt"), null)) {
            TensorInfo in = u.input(0), out = u.output(0);
            assertEquals(DataType.UINT8, in.dtype);
            assertEquals(DataType.UINT8, out.dtype);
            byte[] codes = new byte[(int) in.elementCount()];
            float[] real = new float[codes.length];
            for (int i = 0; i < codes.length; i++) {
                codes[i] = (byte) (i * 37 + 11);
                real[i] = in.scales[0] * ((codes[i] & 255) - in.zeroPoints[0]);
            }
            byte[] got = (byte[]) u.run((Object) codes)[0];
            float[] want = (float[]) f.run((Object) real)[0];
            assertEquals(want.length, got.length);
            for (int i = 0; i < got.length; i++)
                assertEquals(want[i], out.scales[0] * ((got[i] & 255) - out.zeroPoints[0]), 0f);
        }
    }

    @Test
    public void errorsCarryTheRuntimesMessage() throws Exception {
        try {
            Model.fromFile(model("no-such.nrt"), null);
            fail("missing file");
        } catch (NanortException e) {
            assertEquals("IO", e.statusName());
            assertTrue(e.getMessage(), e.getMessage().contains("no-such.nrt"));
        }
        byte[] bytes = Files.readAllBytes(new File(model("sigmoid_tanh.nrt")).toPath());
        ByteBuffer truncated = ByteBuffer.allocateDirect(bytes.length / 2);
        truncated.put(bytes, 0, bytes.length / 2).flip();
        try {
            Model.fromBuffer(truncated, null);
            fail("truncated model");
        } catch (NanortException e) {
            assertEquals("INVALID_MODEL", e.statusName());
        }
        Model m = Model.fromFile(model("sigmoid_tanh.nrt"), null);
        try {
            m.run((Object) new float[12]);
            fail("dynamic shape not set");
        } catch (NanortException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("dynamic dimension"));
        }
        m.resizeInput(0, 2, 6);
        try {
            m.run((Object) new int[12]);
            fail("wrong array type");
        } catch (NanortException e) {
            assertEquals("DTYPE", e.statusName());
        }
        m.close();
        try {
            m.input(0);
            fail("closed model");
        } catch (NanortException e) {
            assertEquals("STATE", e.statusName());
        }
        try {
            Model.fromFile(model("sigmoid_tanh.nrt"), new Model.Options().threads(0));
            fail("0 threads");
        } catch (NanortException e) {
            assertEquals("INVALID_ARGUMENT", e.statusName());
        }
    }

    @Test
    public void loadsFromABufferAndFromAFileRegion() throws Exception {
        byte[] bytes = Files.readAllBytes(new File(model("sigmoid_tanh.nrt")).toPath());
        ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length);
        buffer.put(bytes).flip();
        try (Model m = Model.fromBuffer(buffer, null)) {
            assertEquals("x", m.input(0).name);
        }
        // The model 4160 bytes into a file (64-byte aligned, not page aligned), as an asset inside an APK.
        File packed = File.createTempFile("packed", ".bin");
        packed.deleteOnExit();
        try (RandomAccessFile f = new RandomAccessFile(packed, "rw")) {
            f.write(new byte[4160]);
            f.write(bytes);
            f.write(new byte[100]);
        }
        try (RandomAccessFile f = new RandomAccessFile(packed, "r")) {
            java.lang.reflect.Field fdField = FileDescriptor.class.getDeclaredField("fd");
            fdField.setAccessible(true); // (the JVM's descriptor number; Android code uses ParcelFileDescriptor.getFd)
            int fd = fdField.getInt(f.getFD());
            try (Model m = Model.fromFileRegion(fd, 4160, bytes.length, null)) {
                m.resizeInput(0, 1, 6);
                float[] y = (float[]) m.run((Object) new float[] {0, 1, 2, 3, 4, 5})[0];
                assertEquals(sigmoidTanh(5), y[5], 2e-6f);
            }
        }
    }

    @Test
    public void kernelLevelsThreadsAndProfile() {
        // one constant per level of the C library, named as the library names it
        String[] levels = Model.libraryKernelLevels();
        assertEquals(Model.KernelLevel.values().length - 1, levels.length);
        for (String name : levels) assertEquals(name, Model.KernelLevel.fromName(name).levelName());
        float[] x = new float[60];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        float[] want;
        try (Model ref = Model.fromFile(model("sigmoid_tanh.nrt"), new Model.Options().kernelLevel(Model.KernelLevel.REF))) {
            assertEquals("ref", ref.kernelLevel());
            ref.resizeInput(0, 10, 6);
            want = (float[]) ref.run((Object) x)[0];
        }
        try (Model m = Model.fromFile(model("sigmoid_tanh.nrt"), new Model.Options().threads(3))) {
            m.resizeInput(0, 10, 6);
            m.setProfiling(true);
            float[] got = (float[]) m.run((Object) x)[0];
            for (int i = 0; i < x.length; i++) assertEquals(want[i], got[i], 2e-6f);
            Map<String, Double> profile = m.profileByOpType();
            assertTrue(profile.toString(), profile.containsKey("Sigmoid") || profile.containsKey("Tanh"));
        }
        Model.KernelLevel foreign = Model.bestKernelLevel().ordinal() >= Model.KernelLevel.NEON.ordinal()
                ? Model.KernelLevel.AVX2 : Model.KernelLevel.NEON;
        try {
            Model.fromFile(model("sigmoid_tanh.nrt"), new Model.Options().kernelLevel(foreign));
            fail("a kernel level of another architecture");
        } catch (NanortException e) {
            assertEquals("UNSUPPORTED", e.statusName());
            assertTrue(e.getMessage(), e.getMessage().contains("cannot run"));
        }
    }

    @Test
    public void outputBufferStaysTheCallersAcrossRuns() {
        try (Model m = Model.fromFile(model("sigmoid_tanh.nrt"), null)) {
            m.resizeInput(0, 1, 6);
            ByteBuffer out = direct(24);
            m.bindOutput(0, out);
            float[] y = (float[]) m.run((Object) new float[] {1, 2, 3, 4, 5, 6})[0];
            for (int i = 0; i < 6; i++) assertEquals(y[i], out.getFloat(4 * i), 0f);
            assertSame(ByteOrder.nativeOrder(), out.order());
        }
    }

    /** The private JNI copies, called as a careless or hostile caller would: every size is checked in C. */
    @Test
    public void nativeCopiesRefuseSizesTheArrayOrTensorCannotHold() throws Exception {
        try (Model m = Model.fromFile(model("sigmoid_tanh.nrt"), null)) {
            m.resizeInput(0, 1, 6);
            m.run((Object) new float[6]);
            java.lang.reflect.Field hf = Model.class.getDeclaredField("handle");
            hf.setAccessible(true);
            long h = hf.getLong(m);
            java.lang.reflect.Method out = Model.class.getDeclaredMethod(
                    "nativeCopyOut", long.class, int.class, Object.class, long.class);
            java.lang.reflect.Method in = Model.class.getDeclaredMethod(
                    "nativeCopyIn", long.class, int.class, Object.class, long.class);
            out.setAccessible(true);
            in.setAccessible(true);
            Object[][] bad = {{out, new float[2], 24L}, {out, new float[6], 1L << 40}, {out, "text", 24L},
                              {in, new byte[3], 24L}, {in, new float[64], 256L}};
            for (Object[] c : bad) {
                try {
                    ((java.lang.reflect.Method) c[0]).invoke(null, h, 0, c[1], (long) c[2]);
                    fail("copy of " + c[2] + " bytes with " + c[1].getClass().getSimpleName() + " accepted");
                } catch (java.lang.reflect.InvocationTargetException e) {
                    NanortException n = (NanortException) e.getCause();
                    assertEquals("INVALID_ARGUMENT", n.statusName());
                }
            }
            float[] y = new float[6];
            out.invoke(null, h, 0, y, 24L);
            assertEquals(sigmoidTanh(0f), y[0], 2e-6f);
        }
    }
}
