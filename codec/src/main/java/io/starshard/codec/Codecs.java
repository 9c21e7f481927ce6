package io.starshard.codec;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Picks a codec for a class: the allocation-free built-in one when there is one, Kryo otherwise.
 *
 * <p>Built-ins: {@code Long}, {@code Integer}, {@code Double} (and their primitive classes), {@code String},
 * {@code byte[]}. The collection interfaces {@code Collection}, {@code List}, {@code Set} and {@code Map} get a
 * {@link KryoCodec} with the implementations such a value usually is already registered, so that
 * {@code map.put(k, List.of("a"))} works without configuration: the JDK's immutable collections, then
 * {@code ArrayList}, {@code LinkedList}, {@code HashSet}, {@code LinkedHashSet}, {@code TreeSet}, {@code HashMap},
 * {@code LinkedHashMap}, {@code TreeMap}, in that order (the order fixes the encoding). Any other class gets
 * {@code KryoCodec.of(type)}: registration required, with only the class itself registered. A value type whose
 * fields hold further non-JDK classes needs a {@link KryoCodec} built with those registrations and handed to the
 * map's builder.
 */
public final class Codecs {
    private Codecs() {
    }

    /**
     * The codec for {@code type}.
     *
     * <p>A primitive class means its wrapper, also for those without a built-in codec: {@code short.class} gives
     * a {@link KryoCodec} of {@code Short} (values always arrive boxed).
     *
     * @param type the class of keys or values; a primitive class means its wrapper
     * @param <T>  the type
     * @return a built-in codec, or a new {@link KryoCodec}
     * @throws NullPointerException     if {@code type} is null
     * @throws IllegalArgumentException if {@code type} is {@code void} or {@code Void}, which have no values
     */
    @SuppressWarnings("unchecked")
    public static <T> Codec<T> forClass(Class<T> type) {
        Objects.requireNonNull(type, "type");
        final Codec<?> builtIn = builtIn(type);
        if (builtIn != null) {
            return (Codec<T>) builtIn;
        }
        if (COLLECTION_INTERFACES.contains(type)) {
            return KryoCodec.builder(type).registerJdkImmutableCollections().register(ArrayList.class)
                .register(LinkedList.class).register(HashSet.class).register(LinkedHashSet.class)
                .register(TreeSet.class).register(HashMap.class).register(LinkedHashMap.class)
                .register(TreeMap.class).build();
        }
        return KryoCodec.of(type);
    }

    /** Value types whose values are, almost always, one of a few JDK implementations. */
    private static final Set<Class<?>> COLLECTION_INTERFACES = Set.of(Collection.class, List.class, Set.class, Map.class);

    /**
     * Whether {@code type} has a built-in codec.
     *
     * @param type the class
     * @return true for {@code Long}, {@code Integer}, {@code Double}, their primitives, {@code String},
     *     {@code byte[]}
     */
    public static boolean isBuiltIn(Class<?> type) {
        return builtIn(Objects.requireNonNull(type, "type")) != null;
    }

    private static Codec<?> builtIn(Class<?> type) {
        if (type == Long.class || type == long.class) {
            return LongCodec.INSTANCE;
        }
        if (type == Integer.class || type == int.class) {
            return IntegerCodec.INSTANCE;
        }
        if (type == Double.class || type == double.class) {
            return DoubleCodec.INSTANCE;
        }
        if (type == String.class) {
            return StringCodec.INSTANCE;
        }
        if (type == byte[].class) {
            return ByteArrayCodec.INSTANCE;
        }
        return null;
    }
}
