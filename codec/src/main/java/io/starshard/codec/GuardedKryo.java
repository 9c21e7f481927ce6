package io.starshard.codec;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.CollectionSerializer;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.ObjectArraySerializer;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.StringArraySerializer;
import com.esotericsoftware.kryo.serializers.DefaultSerializers.ArraysAsListSerializer;
import com.esotericsoftware.kryo.serializers.DefaultSerializers.PriorityQueueSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers.JdkImmutableListSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers.JdkImmutableMapSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers.JdkImmutableSetSerializer;
import com.esotericsoftware.kryo.serializers.MapSerializer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * A {@link Kryo} whose default serializers check every element count against the bytes left in the region
 * before they allocate for it.
 *
 * <p>Why: Kryo trusts the counts it reads. Without {@link KryoCodec}'s checksum (or with it, when the region
 * is read with other registrations than it was written with), one wrong count makes {@code CollectionSerializer}
 * size an {@code ArrayList}, {@code MapSerializer} a {@code HashMap}, or the array serializers an array, for up
 * to 2<sup>31</sup> elements: an {@link OutOfMemoryError} instead of a {@link CodecException}. An element of a
 * Kryo collection, map or array almost always takes at least one byte (a class id, a null/not-null marker, or
 * its own bytes), so a count above the bytes left is taken to come from a corrupted region, and is rejected
 * with a {@link KryoException} that the codec reports as a {@link CodecException}. Primitive arrays and strings
 * are checked in {@link KryoCodec}'s input instead, where Kryo reads them.
 *
 * <p>The check runs where the serializer has the count: in {@code create} for collections and maps, which
 * Kryo calls with the count it decoded (Kryo writes a collection's count as a flagged or a plain varint,
 * depending on the element type and on generic type information only the serializer's {@code read} has), and
 * by peeking at the plain varint that the object and string array serializers write.
 *
 * <p>The guarded serializers subclass Kryo's own, so code that looks a serializer up and configures it (e.g.
 * {@code ((CollectionSerializer) kryo.getSerializer(ArrayList.class)).setElementsCanBeNull(false)}) keeps working.
 *
 * <p>The check wrongly rejects one kind of intact value: a collection or map holding more elements than bytes
 * follow its count, whose elements encode to nothing. That takes references off (the default), elements all of
 * one class and none null (then Kryo writes neither class ids nor null markers), and a serializer that writes no
 * bytes for them, e.g. a record without components. With references on every element carries a marker byte.
 */
final class GuardedKryo extends Kryo {

    /** Replaces Kryo's length-trusting serializers (matched by exact class) with their guarded subclasses. */
    @Override
    public Serializer<?> getDefaultSerializer(@SuppressWarnings("rawtypes") Class type) {
        final Serializer<?> serializer = super.getDefaultSerializer(type);
        final Class<?> kind = serializer.getClass();
        if (kind == CollectionSerializer.class) {
            return new GuardedCollectionSerializer();
        }
        if (kind == MapSerializer.class) {
            return new GuardedMapSerializer();
        }
        if (kind == PriorityQueueSerializer.class) {
            return new GuardedPriorityQueueSerializer();
        }
        if (kind == ObjectArraySerializer.class) {
            return new GuardedObjectArraySerializer(this, type);
        }
        if (kind == StringArraySerializer.class) {
            return new GuardedStringArraySerializer();
        }
        if (kind == ArraysAsListSerializer.class) {
            return new GuardedArraysAsListSerializer();
        }
        // Kryo's serializers for List.of, Set.of, Map.of and copyOf are final: these replacements write the same
        // bytes (same base serializer, same settings) and read them back into the same immutable kinds.
        if (kind == JdkImmutableListSerializer.class) {
            return new GuardedImmutableListSerializer();
        }
        if (kind == JdkImmutableSetSerializer.class) {
            return new GuardedImmutableSetSerializer();
        }
        if (kind == JdkImmutableMapSerializer.class) {
            return new GuardedImmutableMapSerializer();
        }
        return serializer;
    }

    /** Throws unless {@code count} elements of at least one byte each fit in what is left of the input. */
    static void checkCount(Input input, long count) {
        final long left = input.limit() - input.position();
        if (count < 0 || count > left) {
            throw new KryoException("element count " + count + " exceeds the " + left
                + " bytes left in the region: corrupted");
        }
    }

    /**
     * Peeks at the {@code length + 1} varint (0 means null) that Kryo's object and string array serializers
     * write first and checks it, leaving the position where it was. Only for those two: Kryo's collection
     * serializers write their count in a different form (a flagged varint, or a plain one, depending on the
     * element type), so collections and maps are checked in {@code create}, which receives the count Kryo read.
     */
    static void peekCount(Input input) {
        final int start = input.position();
        final long countPlusOne = Integer.toUnsignedLong(input.readVarInt(true));
        input.setPosition(start);
        if (countPlusOne != 0) {
            checkCount(input, countPlusOne - 1);
        }
    }

    /** {@link CollectionSerializer} that checks the count before sizing the collection. */
    static final class GuardedCollectionSerializer extends CollectionSerializer<Collection<Object>> {
        @Override
        protected Collection<Object> create(Kryo kryo, Input input, Class<? extends Collection<Object>> type,
                                            int size) {
            checkCount(input, size);
            return super.create(kryo, input, type, size);
        }
    }

    /** {@link MapSerializer} that checks the count before sizing the map. */
    static final class GuardedMapSerializer extends MapSerializer<Map<Object, Object>> {
        @Override
        protected Map<Object, Object> create(Kryo kryo, Input input, Class<? extends Map<Object, Object>> type,
                                             int size) {
            checkCount(input, size);
            return super.create(kryo, input, type, size);
        }
    }

    /** {@link PriorityQueueSerializer} that checks the count before sizing the queue. */
    @SuppressWarnings("rawtypes")
    static final class GuardedPriorityQueueSerializer extends PriorityQueueSerializer {
        @Override
        protected PriorityQueue create(Kryo kryo, Input input, Class<? extends PriorityQueue> type, int size) {
            checkCount(input, size);
            return super.create(kryo, input, type, size);
        }
    }

    /** {@link ObjectArraySerializer} that checks the length before allocating the array. */
    static final class GuardedObjectArraySerializer extends ObjectArraySerializer {
        GuardedObjectArraySerializer(Kryo kryo, @SuppressWarnings("rawtypes") Class type) {
            super(kryo, type);
        }

        @Override
        public Object[] read(Kryo kryo, Input input, @SuppressWarnings("rawtypes") Class type) {
            peekCount(input);
            return super.read(kryo, input, type);
        }
    }

    /** {@link StringArraySerializer} that checks the length before allocating the array. */
    static final class GuardedStringArraySerializer extends StringArraySerializer {
        @Override
        public String[] read(Kryo kryo, Input input, @SuppressWarnings("rawtypes") Class type) {
            peekCount(input);
            return super.read(kryo, input, type);
        }
    }

    /** {@link ArraysAsListSerializer} that checks the count before sizing the list it copies into. */
    @SuppressWarnings("rawtypes")
    static final class GuardedArraysAsListSerializer extends ArraysAsListSerializer {
        @Override
        protected List create(Kryo kryo, Input input, Class type, int size) {
            checkCount(input, size);
            return super.create(kryo, input, type, size);
        }
    }

    /**
     * Reads the lists of {@code List.of}, {@code List.copyOf} and their {@code subList}s as Kryo's
     * {@code JdkImmutableListSerializer} writes them (elements never null), checking the count first.
     */
    static final class GuardedImmutableListSerializer extends CollectionSerializer<List<Object>> {
        GuardedImmutableListSerializer() {
            setElementsCanBeNull(false);
        }

        @Override
        protected List<Object> create(Kryo kryo, Input input, Class<? extends List<Object>> type, int size) {
            checkCount(input, size);
            return new ArrayList<>(size);
        }

        @Override
        protected List<Object> createCopy(Kryo kryo, List<Object> original) {
            return new ArrayList<>(original.size());
        }

        @Override
        public List<Object> read(Kryo kryo, Input input, Class<? extends List<Object>> type) {
            final List<Object> elements = super.read(kryo, input, type);
            return elements == null ? null : List.copyOf(elements);
        }

        @Override
        public List<Object> copy(Kryo kryo, List<Object> original) {
            return List.copyOf(super.copy(kryo, original));
        }
    }

    /** As {@link GuardedImmutableListSerializer}, for the sets of {@code Set.of} and {@code Set.copyOf}. */
    static final class GuardedImmutableSetSerializer extends CollectionSerializer<Set<Object>> {
        GuardedImmutableSetSerializer() {
            setElementsCanBeNull(false);
        }

        @Override
        protected Set<Object> create(Kryo kryo, Input input, Class<? extends Set<Object>> type, int size) {
            checkCount(input, size);
            return new HashSet<>();
        }

        @Override
        protected Set<Object> createCopy(Kryo kryo, Set<Object> original) {
            return new HashSet<>();
        }

        @Override
        public Set<Object> read(Kryo kryo, Input input, Class<? extends Set<Object>> type) {
            final Set<Object> elements = super.read(kryo, input, type);
            return elements == null ? null : Set.copyOf(elements);
        }

        @Override
        public Set<Object> copy(Kryo kryo, Set<Object> original) {
            return Set.copyOf(super.copy(kryo, original));
        }
    }

    /**
     * As {@link GuardedImmutableListSerializer}, for the maps of {@code Map.of}, {@code Map.ofEntries} and
     * {@code Map.copyOf} (keys and values never null).
     */
    static final class GuardedImmutableMapSerializer extends MapSerializer<Map<Object, Object>> {
        GuardedImmutableMapSerializer() {
            setKeysCanBeNull(false);
            setValuesCanBeNull(false);
        }

        @Override
        protected Map<Object, Object> create(Kryo kryo, Input input, Class<? extends Map<Object, Object>> type,
                                             int size) {
            checkCount(input, size);
            return new HashMap<>();
        }

        @Override
        protected Map<Object, Object> createCopy(Kryo kryo, Map<Object, Object> original) {
            return new HashMap<>();
        }

        @Override
        public Map<Object, Object> read(Kryo kryo, Input input, Class<? extends Map<Object, Object>> type) {
            final Map<Object, Object> entries = super.read(kryo, input, type);
            return entries == null ? null : Map.copyOf(entries);
        }

        @Override
        public Map<Object, Object> copy(Kryo kryo, Map<Object, Object> original) {
            return Map.copyOf(super.copy(kryo, original));
        }
    }
}
