package io.starshard.tests;

import io.starshard.ShardedHashMap;

/**
 * The child program of {@link JvmFlagsTest}: builds a {@code Long -> Long} map, puts one entry, and prints one line
 * saying where it failed, {@code RESULT <create|put|close> <exception class>: <message>}, or
 * {@code RESULT ok}. The stack trace of a failure goes to standard error.
 */
public final class BuildMapWithoutAddExports {
    /** Marks the line the test reads. */
    static final String RESULT = "RESULT ";

    private BuildMapWithoutAddExports() {
    }

    /**
     * Runs the program.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        final ShardedHashMap<Long, Long> map;
        try {
            map = ShardedHashMap.create(Long.class, Long.class);
        } catch (Throwable t) {
            report("create", t);
            return;
        }
        try {
            map.put(1L, 2L);
        } catch (Throwable t) {
            report("put", t);
            return;
        }
        try {
            map.close();
        } catch (Throwable t) {
            report("close", t);
            return;
        }
        System.out.println(RESULT + "ok");
    }

    private static void report(String phase, Throwable t) {
        System.out.println(RESULT + phase + " " + t.getClass().getName() + ": " + t.getMessage());
        t.printStackTrace();
    }
}
