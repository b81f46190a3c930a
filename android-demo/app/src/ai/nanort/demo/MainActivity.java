package ai.nanort.demo;

import ai.nanort.AndroidAssets;
import ai.nanort.Model;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.net.Uri;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.TextView;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Pick an image (the bundled sample page or one from the gallery), find and
 * read its text with PP-OCR int8 on nanort, draw the boxes and list the
 * lines with each stage's latency and the kernel level in use. The models
 * are memory-mapped from the APK (uncompressed assets), never copied.
 */
public class MainActivity extends Activity {
    private static final int PICK_IMAGE = 1;
    private static final int MAX_SIDE = 2048;

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private volatile OcrPipeline pipeline;
    private int threads;
    private volatile String kernelLevel = "";
    private ImageView image;
    private TextView status, text;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        LinearLayout column = new LinearLayout(this);
        column.setOrientation(LinearLayout.VERTICAL);
        column.setPadding(24, 24, 24, 24);
        LinearLayout buttons = new LinearLayout(this);
        buttons.addView(button("Sample page", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                openSample();
            }
        }));
        buttons.addView(button("Pick from gallery", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                startActivityForResult(new Intent(Intent.ACTION_GET_CONTENT).setType("image/*"), PICK_IMAGE);
            }
        }));
        column.addView(buttons);
        status = new TextView(this);
        status.setText("loading models...");
        column.addView(status);
        image = new ImageView(this);
        image.setAdjustViewBounds(true);
        column.addView(image);
        text = new TextView(this);
        text.setTextSize(18);
        text.setTextIsSelectable(true);
        column.addView(text);
        ScrollView scroll = new ScrollView(this);
        scroll.addView(column);
        setContentView(scroll);

        threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        worker.execute(new Runnable() {
            @Override
            public void run() {
                loadModels();
            }
        });
    }

    private Button button(String label, View.OnClickListener onClick) {
        Button b = new Button(this);
        b.setText(label);
        b.setOnClickListener(onClick);
        return b;
    }

    private void loadModels() {
        try {
            Model.Options options = new Model.Options().threads(threads);
            long start = System.nanoTime();
            Model det = AndroidAssets.load(getAssets(), "det.nrt", options);
            Model rec = AndroidAssets.load(getAssets(), "rec.nrt", options);
            pipeline = new OcrPipeline(det, rec);
            kernelLevel = det.kernelLevel();
            final String loaded = String.format(Locale.ROOT, "models mapped in %.1f ms; nanort %s, kernel level %s, "
                                                + "%d thread(s)", (System.nanoTime() - start) / 1e6,
                                                Model.runtimeVersion(), det.kernelLevel(), threads);
            show(loaded, null, null);
            openSample();
        } catch (IOException | RuntimeException e) {
            show("cannot load the models: " + e.getMessage(), null, null);
        }
    }

    private void openSample() {
        try (InputStream in = getAssets().open("sample.png")) {
            recognize(BitmapFactory.decodeStream(in));
        } catch (IOException e) {
            show("cannot open the sample: " + e.getMessage(), null, null);
        }
    }

    @Override
    protected void onActivityResult(int request, int result, Intent data) {
        if (request != PICK_IMAGE || result != RESULT_OK || data == null || data.getData() == null) return;
        try {
            recognize(decode(data.getData()));
        } catch (IOException e) {
            show("cannot open the image: " + e.getMessage(), null, null);
        }
    }

    /** Decoded at most MAX_SIDE pixels on its longer side (camera photos are larger than OCR needs). */
    private Bitmap decode(Uri uri) throws IOException {
        BitmapFactory.Options bounds = new BitmapFactory.Options();
        bounds.inJustDecodeBounds = true;
        try (InputStream in = getContentResolver().openInputStream(uri)) {
            BitmapFactory.decodeStream(in, null, bounds);
        }
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inSampleSize = 1;
        while (Math.max(bounds.outWidth, bounds.outHeight) / options.inSampleSize > MAX_SIDE) options.inSampleSize *= 2;
        try (InputStream in = getContentResolver().openInputStream(uri)) {
            Bitmap b = BitmapFactory.decodeStream(in, null, options);
            if (b == null) throw new IOException("not an image this device decodes");
            return b;
        }
    }

    private void recognize(final Bitmap bitmap) {
        if (pipeline == null || bitmap == null) return;
        status.setText("reading...");
        worker.execute(new Runnable() {
            @Override
            public void run() {
                int w = bitmap.getWidth(), h = bitmap.getHeight();
                int[] pixels = new int[w * h];
                bitmap.getPixels(pixels, 0, w, 0, 0, w, h);
                OcrPipeline.Result r;
                try {
                    r = pipeline.run(pixels, w, h);
                } catch (RuntimeException e) {
                    show("OCR failed: " + e.getMessage(), bitmap, null);
                    return;
                }
                Bitmap drawn = bitmap.copy(Bitmap.Config.ARGB_8888, true);
                Canvas canvas = new Canvas(drawn);
                Paint paint = new Paint();
                paint.setStyle(Paint.Style.STROKE);
                paint.setStrokeWidth(Math.max(2f, w / 300f));
                paint.setColor(Color.RED);
                StringBuilder lines = new StringBuilder();
                for (OcrPipeline.Line line : r.lines) {
                    canvas.drawRect(line.left, line.top, line.right, line.bottom, paint);
                    lines.append(line.text).append(String.format(Locale.ROOT, "   (%.2f)%n", line.confidence));
                }
                String timing = String.format(Locale.ROOT,
                        "%dx%d: detection %.1f ms (+ %.1f ms resize, %.1f ms boxes), recognition of %d line(s) "
                        + "%.1f ms; kernel level %s, %d thread(s)", w, h, r.detMs, r.detPreMs, r.detPostMs,
                        r.lines.size(), r.recMs, kernelLevel, threads);
                show(timing, drawn, lines.toString());
            }
        });
    }

    private void show(final String message, final Bitmap bitmap, final String lines) {
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                status.setText(message);
                if (bitmap != null) image.setImageBitmap(bitmap);
                if (lines != null) text.setText(lines);
            }
        });
    }

    @Override
    protected void onDestroy() {
        worker.execute(new Runnable() { // after any run in progress
            @Override
            public void run() {
                if (pipeline != null) pipeline.close();
            }
        });
        worker.shutdown();
        super.onDestroy();
    }
}
