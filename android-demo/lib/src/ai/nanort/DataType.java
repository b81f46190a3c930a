package ai.nanort;

/** Element types of model inputs and outputs, in nanort.h's nrt_dtype order. */
public enum DataType {
    FLOAT32(4), FLOAT16(2), FLOAT64(8), INT8(1), UINT8(1), INT16(2), INT32(4), INT64(8), BOOL(1), INT4(1);

    private final int byteSize;

    DataType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element (int4 is a packed weight type: never an input or output). */
    public int byteSize() {
        return byteSize;
    }

    static DataType fromCode(int code) {
        DataType[] all = values();
        if (code < 0 || code >= all.length) throw new NanortException(11, "unknown element type code " + code);
        return all[code];
    }
}
