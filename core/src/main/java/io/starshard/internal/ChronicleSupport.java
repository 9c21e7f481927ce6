package io.starshard.internal;

/**
 * The library's one setting for Chronicle Bytes, applied before the first Chronicle class loads: Chronicle sends an
 * analytics event and writes files into the user's home directory unless told not to, and a library must never
 * do that on its users' behalf. A user who sets the property explicitly keeps their value.
 */
final class ChronicleSupport {
    private static final String ANALYTICS = "chronicle.analytics.disable";

    static {
        if (System.getProperty(ANALYTICS) == null) {
            System.setProperty(ANALYTICS, "true");
        }
    }

    private ChronicleSupport() {
    }

    /** Call before touching a Chronicle class; the work happens once, in the class initialiser. */
    static void ensureConfigured() {
        // loading this class ran the static initialiser
    }
}
