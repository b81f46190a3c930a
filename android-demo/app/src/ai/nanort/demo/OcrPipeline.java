package ai.nanort.demo;

import ai.nanort.DataType;
import ai.nanort.Model;
import ai.nanort.NanortException;
import ai.nanort.TensorInfo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * PP-OCR on an ARGB image: the detector (DB, uint8 input 1x3x640x640) finds
 * text regions, the recognizer (CTC, float input 1x3x48xW) reads each one at
 * a width that keeps the line's aspect (at least 320, in steps of 64).
 * Pre- and post-processing follow rapidocr's (BGR, (x / 255 - 0.5) / 0.5,
 * probability threshold 0.3, box score 0.5, unclip ratio 1.6) with axis-aligned
 * boxes. Plain Java on int[] pixels, so the JUnit tests run it off-device.
 * Both models run on direct buffers bound once (no copies through Java arrays).
 */
public final class OcrPipeline implements AutoCloseable {
    static final int DET_SIZE = 640, REC_HEIGHT = 48, REC_MIN_WIDTH = 320, REC_MAX_WIDTH = 1600, REC_WIDTH_STEP = 64;
    static final float THRESHOLD = 0.3f, BOX_SCORE = 0.5f, UNCLIP_RATIO = 1.6f;
    static final int MIN_BOX_SIDE = 3;

    /** One line of text: its box in the source image, what it says, its mean character probability. */
    public static final class Line {
        public final int left, top, right, bottom;
        public final String text;
        public final float confidence;

        Line(int left, int top, int right, int bottom, String text, float confidence) {
            this.left = left;
            this.top = top;
            this.right = right;
            this.bottom = bottom;
            this.text = text;
            this.confidence = confidence;
        }
    }

    /** The lines, and milliseconds per stage. */
    public static final class Result {
        public final List<Line> lines;
        public final double detPreMs, detMs, detPostMs, recMs;

        Result(List<Line> lines, double detPreMs, double detMs, double detPostMs, double recMs) {
            this.lines = lines;
            this.detPreMs = detPreMs;
            this.detMs = detMs;
            this.detPostMs = detPostMs;
            this.recMs = recMs;
        }
    }

    private final Model det, rec;
    private final String[] characters;
    private final byte[] detCodes = new byte[256]; // pixel value -> det input code
    private final ByteBuffer detIn, detOut;
    private ByteBuffer recIn, recOut; // grown for the widest line so far; bound slices of them
    private int recWidth, recSteps, recClasses;

    public OcrPipeline(Model det, Model rec) {
        this.det = det;
        this.rec = rec;
        det.prepare(); // output shapes follow from the input shapes
        TensorInfo din = det.input(0), dout = det.output(0), rin = rec.input(0);
        expect(din, DataType.UINT8, 1, 3, DET_SIZE, DET_SIZE);
        expect(dout, DataType.FLOAT32, 1, 1, DET_SIZE, DET_SIZE);
        if (rin.dtype != DataType.FLOAT32 || rin.declaredShape.length != 4 || rin.declaredShape[1] != 3)
            throw new NanortException(5, "recognizer input " + rin + ": expected float32 [1, 3, 48, width]");
        String list = rec.metadata().get("character");
        if (list == null) throw new NanortException(3, "the recognizer's metadata has no character list");
        String[] dict = list.split("\n", -1);
        int n = dict.length > 0 && dict[dict.length - 1].isEmpty() ? dict.length - 1 : dict.length;
        characters = new String[n + 2]; // CTC blank, the dictionary, space
        characters[0] = "";
        System.arraycopy(dict, 0, characters, 1, n);
        characters[n + 1] = " ";
        float scale = din.scales[0];
        long zero = din.zeroPoints[0];
        for (int v = 0; v < 256; v++) {
            double code = Math.rint((float) ((v / 255.0f - 0.5f) / 0.5f) / scale) + zero;
            detCodes[v] = (byte) Math.max(0, Math.min(255, code));
        }
        detIn = direct(din.byteSize());
        detOut = direct(dout.byteSize());
        det.bindInput(0, detIn);
        det.bindOutput(0, detOut);
        setRecWidth(REC_MIN_WIDTH);
    }

    /** Resizes the recognizer's input and binds buffers of the new sizes (a re-plan: only when the width changes). */
    private void setRecWidth(int width) {
        if (width == recWidth) return;
        rec.bindOutput(0, null); // its size follows the width: known after prepare
        rec.resizeInput(0, 1, 3, REC_HEIGHT, width);
        long inBytes = 3L * REC_HEIGHT * width * 4;
        if (recIn == null || recIn.capacity() < inBytes) recIn = direct(inBytes);
        rec.bindInput(0, slice(recIn, inBytes));
        rec.prepare();
        TensorInfo out = rec.output(0);
        if (out.dtype != DataType.FLOAT32 || out.shape.length != 3 || out.shape[2] != characters.length)
            throw new NanortException(5, "recognizer output " + out + ": expected float32 [1, steps, "
                                      + characters.length + "] (blank, the metadata's characters, space)");
        if (recOut == null || recOut.capacity() < out.byteSize()) recOut = direct(out.byteSize());
        rec.bindOutput(0, slice(recOut, out.byteSize()));
        recWidth = width;
        recSteps = (int) out.shape[1];
        recClasses = (int) out.shape[2];
    }

    private static ByteBuffer slice(ByteBuffer buffer, long bytes) {
        ByteBuffer b = buffer.duplicate();
        b.clear();
        b.limit((int) bytes);
        return b.slice().order(ByteOrder.nativeOrder());
    }

    private static void expect(TensorInfo t, DataType dtype, long... shape) {
        if (t.dtype != dtype || !java.util.Arrays.equals(t.shape, shape))
            throw new NanortException(5, "model tensor " + t + ": expected " + dtype + " " + java.util.Arrays.toString(shape)
                                      + " (convert with android-demo/tools/make_assets.py)");
    }

    private static ByteBuffer direct(long bytes) {
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }

    public Result run(int[] argb, int width, int height) {
        long t0 = System.nanoTime();
        float scale = letterbox(argb, width, height);
        long t1 = System.nanoTime();
        det.run();
        long t2 = System.nanoTime();
        List<int[]> boxes = findBoxes(scale, width, height);
        long t3 = System.nanoTime();
        List<Line> lines = new ArrayList<>();
        for (int[] b : boxes) {
            cropToRecInput(argb, width, b);
            rec.run();
            Line line = decode(b);
            if (!line.text.trim().isEmpty()) lines.add(line);
        }
        long t4 = System.nanoTime();
        return new Result(lines, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6);
    }

    // ---- detection ------------------------------------------------------------------

    /** Resized (bilinear, aspect kept) into the top-left of the 640 x 640 input, the rest mid-gray; BGR planes. */
    private float letterbox(int[] argb, int width, int height) {
        float scale = Math.min((float) DET_SIZE / width, (float) DET_SIZE / height);
        int w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
        int plane = DET_SIZE * DET_SIZE;
        byte gray = detCodes[128];
        for (int i = 0; i < 3 * plane; i++) detIn.put(i, gray);
        for (int y = 0; y < h; y++) {
            float sy = Math.min(height - 1, Math.max(0, (y + 0.5f) / scale - 0.5f));
            int y0 = (int) sy, y1 = Math.min(height - 1, y0 + 1);
            float fy = sy - y0;
            for (int x = 0; x < w; x++) {
                float sx = Math.min(width - 1, Math.max(0, (x + 0.5f) / scale - 0.5f));
                int x0 = (int) sx, x1 = Math.min(width - 1, x0 + 1);
                float fx = sx - x0;
                int p00 = argb[y0 * width + x0], p01 = argb[y0 * width + x1];
                int p10 = argb[y1 * width + x0], p11 = argb[y1 * width + x1];
                for (int c = 0; c < 3; c++) { // c = 0: blue (BGR, as rapidocr reads images)
                    int shift = 8 * c;
                    float v = lerp(lerp((p00 >> shift) & 255, (p01 >> shift) & 255, fx),
                                   lerp((p10 >> shift) & 255, (p11 >> shift) & 255, fx), fy);
                    detIn.put(c * plane + y * DET_SIZE + x, detCodes[Math.round(v)]);
                }
            }
        }
        return scale;
    }

    private static float lerp(float a, float b, float t) {
        return a + (b - a) * t;
    }

    /** Connected regions of the thresholded probability map, as boxes in the source image. */
    private List<int[]> findBoxes(float scale, int width, int height) {
        FloatBuffer prob = detOut.asFloatBuffer();
        int n = DET_SIZE * DET_SIZE;
        boolean[] seen = new boolean[n];
        int[] queue = new int[n];
        List<int[]> boxes = new ArrayList<>();
        for (int start = 0; start < n; start++) {
            if (seen[start] || prob.get(start) <= THRESHOLD) continue;
            int head = 0, tail = 0, minX = DET_SIZE, minY = DET_SIZE, maxX = -1, maxY = -1;
            double sum = 0;
            queue[tail++] = start;
            seen[start] = true;
            while (head < tail) {
                int p = queue[head++], x = p % DET_SIZE, y = p / DET_SIZE;
                sum += prob.get(p);
                minX = Math.min(minX, x);
                maxX = Math.max(maxX, x);
                minY = Math.min(minY, y);
                maxY = Math.max(maxY, y);
                int[] next = {x > 0 ? p - 1 : -1, x + 1 < DET_SIZE ? p + 1 : -1, y > 0 ? p - DET_SIZE : -1,
                              y + 1 < DET_SIZE ? p + DET_SIZE : -1};
                for (int q : next) {
                    if (q >= 0 && !seen[q] && prob.get(q) > THRESHOLD) {
                        seen[q] = true;
                        queue[tail++] = q;
                    }
                }
            }
            int w = maxX - minX + 1, h = maxY - minY + 1;
            if (Math.min(w, h) < MIN_BOX_SIDE || sum / tail < BOX_SCORE) continue;
            // DB's unclip: grow the shrunk text kernel by area * ratio / perimeter on every side
            float grow = UNCLIP_RATIO * w * h / (2f * (w + h));
            int left = clamp((int) Math.floor((minX - grow) / scale), width);
            int top = clamp((int) Math.floor((minY - grow) / scale), height);
            int right = clamp((int) Math.ceil((maxX + 1 + grow) / scale), width);
            int bottom = clamp((int) Math.ceil((maxY + 1 + grow) / scale), height);
            if (right - left >= MIN_BOX_SIDE && bottom - top >= MIN_BOX_SIDE) boxes.add(new int[] {left, top, right, bottom});
        }
        Collections.sort(boxes, new Comparator<int[]>() { // reading order: rows, then left to right
            @Override
            public int compare(int[] a, int[] b) {
                int rowA = (a[1] + a[3]) / 2, rowB = (b[1] + b[3]) / 2;
                boolean sameRow = Math.abs(rowA - rowB) < Math.min(a[3] - a[1], b[3] - b[1]) / 2;
                return sameRow ? Integer.compare(a[0], b[0]) : Integer.compare(rowA, rowB);
            }
        });
        return boxes;
    }

    private static int clamp(int v, int limit) {
        return Math.max(0, Math.min(limit, v));
    }

    // ---- recognition ------------------------------------------------------------

    /** The box resized to height 48 (aspect kept), normalized, zero-padded on the right to the input width. */
    private void cropToRecInput(int[] argb, int width, int[] b) {
        int bw = b[2] - b[0], bh = b[3] - b[1];
        int need = (int) Math.ceil(bw * (double) REC_HEIGHT / bh);
        int inputWidth = Math.max(REC_MIN_WIDTH, Math.min(REC_MAX_WIDTH, (need + REC_WIDTH_STEP - 1) / REC_WIDTH_STEP
                                                                          * REC_WIDTH_STEP));
        setRecWidth(inputWidth);
        int w = Math.max(1, Math.min(inputWidth, need));
        FloatBuffer in = recIn.asFloatBuffer();
        int plane = REC_HEIGHT * inputWidth;
        for (int i = 0; i < 3 * plane; i++) in.put(i, 0f);
        float sxScale = (float) bw / w, syScale = (float) bh / REC_HEIGHT;
        for (int y = 0; y < REC_HEIGHT; y++) {
            float sy = Math.min(bh - 1, Math.max(0, (y + 0.5f) * syScale - 0.5f));
            int y0 = (int) sy, y1 = Math.min(bh - 1, y0 + 1);
            float fy = sy - y0;
            for (int x = 0; x < w; x++) {
                float sx = Math.min(bw - 1, Math.max(0, (x + 0.5f) * sxScale - 0.5f));
                int x0 = (int) sx, x1 = Math.min(bw - 1, x0 + 1);
                float fx = sx - x0;
                int row0 = (b[1] + y0) * width + b[0], row1 = (b[1] + y1) * width + b[0];
                int p00 = argb[row0 + x0], p01 = argb[row0 + x1], p10 = argb[row1 + x0], p11 = argb[row1 + x1];
                for (int c = 0; c < 3; c++) { // BGR
                    int shift = 8 * c;
                    float v = lerp(lerp((p00 >> shift) & 255, (p01 >> shift) & 255, fx),
                                   lerp((p10 >> shift) & 255, (p11 >> shift) & 255, fx), fy);
                    in.put(c * plane + y * inputWidth + x, (v / 255f - 0.5f) / 0.5f);
                }
            }
        }
    }

    /** Greedy CTC: the best class per step, repeats merged, blanks dropped. */
    private Line decode(int[] b) {
        FloatBuffer probs = recOut.asFloatBuffer();
        StringBuilder text = new StringBuilder();
        double confidence = 0;
        int kept = 0, previous = -1;
        for (int t = 0; t < recSteps; t++) {
            int best = 0;
            float bestP = -1;
            for (int k = 0; k < recClasses; k++) {
                float p = probs.get(t * recClasses + k);
                if (p > bestP) {
                    bestP = p;
                    best = k;
                }
            }
            if (best != 0 && best != previous) {
                text.append(characters[best]);
                confidence += bestP;
                kept++;
            }
            previous = best;
        }
        return new Line(b[0], b[1], b[2], b[3], text.toString().trim(), kept > 0 ? (float) (confidence / kept) : 0f);
    }

    @Override
    public void close() {
        det.close();
        rec.close();
    }
}
