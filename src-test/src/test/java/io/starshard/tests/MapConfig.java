package io.starshard.tests;

import io.starshard.ShardedHashMap;
import io.starshard.codec.Codec;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One map configuration of the test matrix: slot format (by key and value type), shard count, presized or grown
 * from the default table, with or without a memory budget. The {@code CacheSpec} of this code base, kept to a
 * record and two streams: {@link #matrix(Format...)} (every combination, for the fast contract tests) and
 * {@link #reduced(Format...)} (each format once per shard count, for slow tests).
 *
 * <p>Maps made by {@link #newMap()} are validated and closed after the test by {@link ValidateMaps}.
 *
 * @param format   key and value types, hence the slot format
 * @param shards   shard count
 * @param presized whether the builder gets {@link #EXPECTED_ENTRIES} (tables sized up front) or tables start at
 *                 the default size and grow
 * @param budgeted whether the builder gets a memory budget of {@link #BUDGET_BYTES}
 */
public record MapConfig(Format format, int shards, boolean presized, boolean budgeted) {
    /** Shard counts of the matrix: one lock for everything, the usual, and the default (many small tables). */
    static final int[] SHARD_COUNTS = {1, 8, 64};
    /** Expected entries of a presized map: more than the contract tests hold, far fewer than differential runs. */
    static final long EXPECTED_ENTRIES = 1_000;
    /** Budget of a budgeted map: far above what any matrix test stores, so it never refuses a write. */
    static final long BUDGET_BYTES = 256L << 20;
    /** Hash seed of {@link #newMap()}: fixed, so that a failure replays with the same layout. */
    static final long HASH_SEED = 0x5EED;

    /** Key and value types of a matrix map; with the built-in codecs they decide the slot format. */
    public enum Format {
        /** Inline slots: an 8-byte key and an 8-byte value in the table itself; the primitive methods apply. */
        LONG_LONG("Long->Long", Long.class, Long.class),
        /** Indirect: both variable-length, in the shard's arena. */
        STRING_STRING("String->String", String.class, String.class),
        /** Indirect with array values (compared by content where the map compares values). */
        STRING_BYTES("String->byte[]", String.class, byte[].class),
        /** Indirect with a fixed 4-byte key. */
        INTEGER_STRING("Integer->String", Integer.class, String.class),
        /** Indirect with a Kryo-coded record value ({@link Item#CODEC}). */
        LONG_ITEM("Long->Item[Kryo]", Long.class, Item.class);

        final String label;
        final Class<?> keyType;
        final Class<?> valueType;

        Format(String label, Class<?> keyType, Class<?> valueType) {
            this.label = label;
            this.keyType = keyType;
            this.valueType = valueType;
        }
    }

    /**
     * Every combination for the given formats (all formats if none): 12 configurations per format.
     *
     * @param formats the formats, or none for all
     * @return the configurations
     */
    public static Stream<MapConfig> matrix(Format... formats) {
        final List<MapConfig> configs = new ArrayList<>();
        for (Format format : formats.length == 0 ? Format.values() : formats) {
            for (int shards : SHARD_COUNTS) {
                for (boolean presized : new boolean[] {false, true}) {
                    for (boolean budgeted : new boolean[] {false, true}) {
                        configs.add(new MapConfig(format, shards, presized, budgeted));
                    }
                }
            }
        }
        return configs.stream();
    }

    /**
     * For slow tests: each format with every shard count once (3 per format). Presizing and the budget alternate
     * ({@code presized} when format index + shard index is odd, {@code budgeted} when the shard index is the format
     * index mod 3), so that every format, and every shard count, meets both values of each.
     *
     * @param formats the formats, or none for all
     * @return the configurations
     */
    public static Stream<MapConfig> reduced(Format... formats) {
        final List<MapConfig> configs = new ArrayList<>();
        for (Format format : formats.length == 0 ? Format.values() : formats) {
            final int f = format.ordinal();
            for (int s = 0; s < SHARD_COUNTS.length; s++) {
                configs.add(new MapConfig(format, SHARD_COUNTS[s], (f + s) % 2 == 1, s == f % 3));
            }
        }
        return configs.stream();
    }

    /**
     * This configuration with another shard count.
     *
     * @param shardCount the shard count
     * @return a copy
     */
    public MapConfig withShards(int shardCount) {
        return new MapConfig(format, shardCount, presized, budgeted);
    }

    /**
     * The budget a map of this configuration reports.
     *
     * @return {@link #BUDGET_BYTES}, or {@link Long#MAX_VALUE} (no budget)
     */
    public long budgetBytes() {
        return budgeted ? BUDGET_BYTES : Long.MAX_VALUE;
    }

    /**
     * A new map of this configuration with the fixed {@link #HASH_SEED}.
     *
     * @param <K> key type of the format
     * @param <V> value type of the format
     * @return a new map, validated and closed after the current test by {@link ValidateMaps}
     */
    public <K, V> ShardedHashMap<K, V> newMap() {
        return newMap(HASH_SEED);
    }

    /**
     * A new map of this configuration.
     *
     * @param hashSeed the hash seed
     * @param <K>      key type of the format (the caller's, unchecked: the matrix gives each test its format)
     * @param <V>      value type of the format
     * @return a new map, validated and closed after the current test by {@link ValidateMaps}
     */
    @SuppressWarnings("unchecked")
    public <K, V> ShardedHashMap<K, V> newMap(long hashSeed) {
        final var builder = ShardedHashMap.builder((Class<K>) format.keyType, (Class<V>) format.valueType)
            .shards(shards).hashSeed(hashSeed);
        if (presized) {
            builder.expectedEntries(EXPECTED_ENTRIES);
        }
        if (budgeted) {
            builder.memoryBudget(BUDGET_BYTES);
        }
        if (format == Format.LONG_ITEM) {
            builder.valueCodec((Codec<V>) (Codec<?>) Item.CODEC);
        }
        return ValidateMaps.track(builder.build());
    }

    /** Short enough for a test name: {@code Long->Long, 8 shards, presized, budget}. */
    @Override
    public String toString() {
        return format.label + ", " + shards + (shards == 1 ? " shard" : " shards")
            + (presized ? ", presized" : ", grown") + (budgeted ? ", budget" : "");
    }
}
