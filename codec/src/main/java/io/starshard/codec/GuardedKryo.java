package io.starshard.codec;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.CollectionSerializer;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.ObjectArraySerializer;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.StringArraySerializer;
import com.esotericsoftware.kryo.serializers.DefaultSerializers.PriorityQueueSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers;
import com.esotericsoftware.kryo.serializers.MapSerializer;
import java.util.Collection;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * A {@link Kryo} whose default serializers check every element count against the bytes left in the region
 * before they allocate for it.
 *
 * <p>Why: Kryo trusts the counts it reads. Without {@link KryoCodec}'s checksum, one corrupted count makes
 * {@code CollectionSerializer} size an {@code ArrayList}, {@code MapSerializer} a {@code HashMap}, or the array
 * serializers an array, for up to 2<sup>31</sup> elements: an {@link OutOfMemoryError} instead of a
 * {@link CodecException}. Every element of a Kryo collection, map or array takes at least one byte (a class id,
 * or a null/not-null marker), so a count above the bytes left can only come from a corrupted region, and is
 * rejected with a {@link KryoException} that the codec reports as a {@link CodecException}. Primitive arrays
 * and strings are checked in {@link KryoCodec}'s input instead, where Kryo reads them.
 *
 * <p>The guarded serializers subclass Kryo's own, so code that looks a serializer up and configures it (e.g.
 * {@code ((CollectionSerializer) kryo.getSerializer(ArrayList.class)).setElementsCanBeNull(false)}) keeps working.
 * The one case the check would reject wrongly, a collection whose elements are configured never-null and whose
 * element serializer writes zero bytes, does not arise with Kryo's default settings.
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
        if (serializer instanceof ImmutableCollectionsSerializers.JdkImmutableListSerializer
            || serializer instanceof ImmutableCollectionsSerializers.JdkImmutableSetSerializer
            || serializer instanceof ImmutableCollectionsSerializers.JdkImmutableMapSerializer) {
            return new CountChecked<>(serializer);    // final classes: guard by delegation
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
     * Peeks at the {@code count + 1} varint that Kryo's collection, map and array serializers write first
     * (0 means null) and checks it, leaving the position where it was.
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

    /** Delegates to a (final) count-prefixed serializer after checking the count it is about to read. */
    static final class CountChecked<T> extends Serializer<T> {
        private final Serializer<T> delegate;

        CountChecked(Serializer<T> delegate) {
            super(delegate.getAcceptsNull(), delegate.isImmutable());
            this.delegate = delegate;
        }

        @Override
        public void write(Kryo kryo, Output output, T object) {
            delegate.write(kryo, output, object);
        }

        @Override
        public T read(Kryo kryo, Input input, Class<? extends T> type) {
            peekCount(input);
            return delegate.read(kryo, input, type);
        }

        @Override
        public T copy(Kryo kryo, T original) {
            return delegate.copy(kryo, original);
        }
    }
}
