package ai.nanort.demo;

import static org.junit.Assert.assertTrue;

import ai.nanort.Model;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

import javax.imageio.ImageIO;

import org.junit.Test;

/**
 * The app's whole OCR path (the APK's det.nrt and rec.nrt, its sample page,
 * OcrPipeline) off-device: every line the page shows (sample.txt, written
 * when the page was rendered) is read with at least 90 % of its characters
 * right, and nothing else is read. System property nanort.assets: the
 * assets folder of the build.
 */
public class OcrPipelineTest {
    static final File ASSETS = new File(System.getProperty("nanort.assets", "build/assets"));

    /** 1 - edit distance / length of the expected text. */
    static double accuracy(String got, String want) {
        int[] prev = new int[got.length() + 1], cur = new int[got.length() + 1];
        for (int j = 0; j <= got.length(); j++) prev[j] = j;
        for (int i = 1; i <= want.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= got.length(); j++) {
                int subst = prev[j - 1] + (want.charAt(i - 1) == got.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(subst, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return 1.0 - (double) prev[got.length()] / want.length();
    }

    @Test
    public void readsTheSamplePage() throws Exception {
        BufferedImage page = ImageIO.read(new File(ASSETS, "sample.png"));
        int w = page.getWidth(), h = page.getHeight();
        int[] argb = page.getRGB(0, 0, w, h, null, 0, w);
        List<String> want = Files.readAllLines(new File(ASSETS, "sample.txt").toPath(), StandardCharsets.UTF_8);
        Model.Options options = new Model.Options().threads(2);
        try (OcrPipeline ocr = new OcrPipeline(Model.fromFile(new File(ASSETS, "det.nrt").getPath(), options),
                                               Model.fromFile(new File(ASSETS, "rec.nrt").getPath(), options))) {
            OcrPipeline.Result r = ocr.run(argb, w, h);
            StringBuilder report = new StringBuilder();
            for (OcrPipeline.Line line : r.lines)
                report.append(String.format("  [%d,%d %dx%d] %s (%.2f)%n", line.left, line.top, line.right - line.left,
                                            line.bottom - line.top, line.text, line.confidence));
            System.out.printf("OCR of sample.png (%dx%d): det %.1f ms, rec %.1f ms for %d lines%n%s", w, h, r.detMs,
                              r.recMs, r.lines.size(), report);
            assertTrue("lines read:\n" + report, r.lines.size() == want.size());
            for (int i = 0; i < want.size(); i++) {
                double acc = accuracy(r.lines.get(i).text, want.get(i));
                assertTrue("line " + i + ": want '" + want.get(i) + "', read '" + r.lines.get(i).text + "' ("
                           + acc + ")\n" + report, acc >= 0.9);
            }
        }
    }
}
