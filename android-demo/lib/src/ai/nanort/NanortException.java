package ai.nanort;

/** A failure of the nanort runtime: the C status and the message naming what is wrong. */
public class NanortException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final String[] STATUS_NAMES = {
        "OK", "INVALID_ARGUMENT", "IO", "INVALID_MODEL", "UNSUPPORTED", "SHAPE",
        "DTYPE", "OUT_OF_MEMORY", "LIMIT", "STATE", "BUSY", "INTERNAL",
    };

    private final int status;

    public NanortException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** The C runtime's nrt_status code (nanort.h). */
    public int status() {
        return status;
    }

    /** The status as named in nanort.h without the NRT_ERR_ prefix ("SHAPE", "IO", ...). */
    public String statusName() {
        return status >= 0 && status < STATUS_NAMES.length ? STATUS_NAMES[status] : "UNKNOWN";
    }

    @Override
    public String toString() {
        return "NanortException(" + statusName() + "): " + getMessage();
    }
}
