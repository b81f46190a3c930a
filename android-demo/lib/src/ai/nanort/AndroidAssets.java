package ai.nanort;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;

import java.io.FileNotFoundException;
import java.io.IOException;

/** Models packed in the APK's assets, memory-mapped from the APK file: no copy. */
public final class AndroidAssets {
    private AndroidAssets() {}

    /**
     * The asset must be stored uncompressed (aapt -0 nrt, or Gradle's
     * androidResources { noCompress += "nrt" }) and, for the weights to be used
     * in place, 64-byte aligned in the APK (zipalign -p 64).
     */
    public static Model load(AssetManager assets, String name, Model.Options options) throws IOException {
        AssetFileDescriptor afd;
        try {
            afd = assets.openFd(name);
        } catch (FileNotFoundException e) {
            throw new FileNotFoundException(name + ": no such asset, or stored compressed (pack .nrt assets "
                                            + "uncompressed so they can be mapped): " + e.getMessage());
        }
        try {
            return Model.fromFileRegion(afd.getParcelFileDescriptor().getFd(), afd.getStartOffset(),
                                        afd.getLength(), options);
        } finally {
            afd.close();
        }
    }
}
