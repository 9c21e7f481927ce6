package io.starshard.jmh.segment;

/** The operation a benchmark method measures; setup prepares only the data that operation needs. */
enum Op {
    /** Lookup of a present key, keys in random order. */
    GET,
    /** Lookup of an absent key. */
    GET_MISS,
    /** Overwrite of a present key: the size stays constant (steady state). */
    PUT,
    /** Insert into a map created empty (default capacity), recreated after every {@code entries} inserts. */
    INSERT,
    /** Removal of a present key, then its insertion again: the size stays constant (steady state). */
    REMOVE;

    /** The op of a JMH benchmark name such as {@code ...SegmentBenchmark.LongToLong.getMiss}. */
    static Op ofBenchmark(String benchmark) {
        final String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        switch (method) {
            case "get":
                return GET;
            case "getMiss":
                return GET_MISS;
            case "put":
                return PUT;
            case "insertFromEmpty":
                return INSERT;
            case "removeAndPut":
                return REMOVE;
            default:
                throw new IllegalArgumentException("no Op for benchmark method " + method);
        }
    }
}
