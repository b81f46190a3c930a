package ai.nanort;

import java.util.Arrays;

/**
 * An input or output of a model: name, element type, shape and quantization.
 * {@code shape} is the current shape (-1 where not yet known, e.g. a dynamic
 * dimension before {@link Model#resizeInput}); {@code declaredShape} is the
 * file's, -1 for dynamic dimensions, whose names {@code dimNames} gives (null
 * where the file has none). A quantized tensor holds integer codes q with
 * real = scales[c] * (q - zeroPoints[c]); one entry per tensor, or per
 * channel along {@code quantAxis}.
 */
public final class TensorInfo {
    public final String name;
    public final DataType dtype;
    public final long[] shape;
    public final long[] declaredShape;
    public final String[] dimNames;
    public final float[] scales;
    public final long[] zeroPoints;
    public final int quantAxis;

    TensorInfo(String name, int dtype, long[] shape, long[] declaredShape, String[] dimNames, float[] scales,
               long[] zeroPoints, int quantAxis) {
        this.name = name;
        this.dtype = DataType.fromCode(dtype);
        this.shape = shape;
        this.declaredShape = declaredShape;
        this.dimNames = dimNames;
        this.scales = scales;
        this.zeroPoints = zeroPoints;
        this.quantAxis = quantAxis;
    }

    public boolean isQuantized() {
        return scales.length > 0;
    }

    /** Elements at the current shape, -1 while a dimension is unknown. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            if (d < 0) return -1;
            n *= d;
        }
        return n;
    }

    /** Bytes at the current shape, -1 while a dimension is unknown. */
    public long byteSize() {
        long n = elementCount();
        return n < 0 ? -1 : n * dtype.byteSize();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(name).append(": ").append(dtype).append(" [");
        for (int d = 0; d < declaredShape.length; d++) {
            if (d > 0) s.append(',');
            s.append(declaredShape[d] >= 0 ? Long.toString(declaredShape[d])
                     : dimNames[d] != null ? dimNames[d] : "?");
        }
        s.append(']');
        if (isQuantized()) s.append(" scale ").append(Arrays.toString(scales)).append(" zero point ")
                .append(Arrays.toString(zeroPoints));
        return s.toString();
    }
}
