package io.starshard.codec;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.DefaultInstantiatorStrategy;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.objenesis.strategy.StdInstantiatorStrategy;

/**
 * Any type, through Kryo 5: the codec for keys and values that have no built-in codec.
 *
 * <p><b>Threads.</b> A {@link Kryo} instance is not thread-safe and is costly to build, so each thread that
 * uses the codec gets its own {@code Kryo}, {@code Output} and {@code Input}, created on first use from this
 * codec's configuration and kept for the thread's life. A re-entrant call on the same thread (a custom
 * serializer that itself encodes through this codec) gets a temporary state instead of corrupting the one in
 * use.
 *
 * <p><b>Registration.</b> Required by default: Kryo then writes a small class id instead of the class name,
 * and a corrupted or foreign region cannot make it load and instantiate an arbitrary class. The codec's own
 * type is always registered; every other class in the object graph must be registered through the builder,
 * or the first encode fails with a {@link CodecException} naming the class and the builder call to add.
 * {@link Builder#registrationRequired(boolean) registrationRequired(false)} is the explicit opt-out.
 *
 * <p><b>Corruption.</b> Kryo trusts the lengths it reads: a flipped bit in an array or collection length can
 * make it allocate gigabytes before it notices the input is too short. By default every encoding therefore
 * ends with a CRC-32C of the Kryo bytes (4 bytes, hardware-accelerated), verified before Kryo sees the
 * region, so truncated and corrupted regions are rejected up front. The reader also refuses array lengths
 * longer than the bytes left. {@link Builder#checksum(boolean) checksum(false)} drops the 4 bytes for
 * callers who trust their storage.
 *
 * <p><b>Keys.</b> The map compares keys by their bytes, so a type used as a key must serialize
 * deterministically: records and plain objects of primitives, strings and lists do; objects holding hash sets
 * or hash maps generally do not.
 *
 * @param <T> the value type
 */
public final class KryoCodec<T> implements Codec<T> {
    private static final int CHECKSUM_BYTES = 4;
    private static final int INITIAL_OUTPUT_BYTES = 256;
    /** Scratch arrays that grew past this are dropped after use rather than kept per thread. */
    private static final int RETAINED_SCRATCH_BYTES = 1 << 20;

    private final Class<T> type;
    private final boolean registrationRequired;
    private final boolean references;
    private final boolean checksum;
    private final List<Registration<?>> registrations;
    private final Consumer<Kryo> customizer;
    private final ThreadLocal<State> states = ThreadLocal.withInitial(this::newState);

    private KryoCodec(Builder<T> b) {
        this.type = b.type;
        this.registrationRequired = b.registrationRequired;
        this.references = b.references;
        this.checksum = b.checksum;
        this.registrations = List.copyOf(b.registrations);
        this.customizer = b.customizer;
        // Build one Kryo now so that a configuration error surfaces at construction, not on first put.
        newState();
    }

    /**
     * Starts a builder for a codec of {@code type}; the type itself is registered.
     *
     * @param type the value class
     * @param <T>  the value type
     * @return a builder with registration required, references off, checksum on
     */
    public static <T> Builder<T> builder(Class<T> type) {
        return new Builder<>(type);
    }

    /**
     * A codec with the defaults, registering {@code type} and {@code more}.
     *
     * @param type the value class
     * @param more further classes in the value's object graph
     * @param <T>  the value type
     * @return the codec
     */
    public static <T> KryoCodec<T> of(Class<T> type, Class<?>... more) {
        final Builder<T> b = builder(type);
        for (Class<?> c : more) {
            b.register(c);
        }
        return b.build();
    }

    @Override
    public Class<T> type() {
        return type;
    }

    @Override
    public int fixedLength() {
        return VARIABLE_LENGTH;
    }

    /**
     * Whether every encoding carries a CRC-32C trailer.
     *
     * @return true when corrupted regions are detected by checksum
     */
    public boolean hasChecksum() {
        return checksum;
    }

    @Override
    public int encode(T value, MutableDirectBuffer buffer, int offset, int maxLength) {
        Objects.requireNonNull(value, "value");
        if (!type.isInstance(value)) {
            throw new ClassCastException("value of " + value.getClass().getName() + " is not a " + type.getName());
        }
        final State state = acquire();
        try {
            final Output output = state.output;
            output.reset();
            try {
                state.kryo.writeClassAndObject(output, value);
            } catch (IllegalArgumentException e) {
                throw explainRegistration(e, "encode");
            } catch (KryoException e) {
                throw new CodecException("Kryo could not encode a " + value.getClass().getName() + ": "
                    + e.getMessage(), e);
            }
            final int payload = output.position();
            final long total = (long) payload + (checksum ? CHECKSUM_BYTES : 0);
            if (total > maxLength) {
                throw new EncodingTooLargeException(value.getClass(), maxLength, total);
            }
            final byte[] bytes = output.getBuffer();
            buffer.putBytes(offset, bytes, 0, payload);
            if (checksum) {
                buffer.putInt(offset + payload, crc(state.crc, bytes, 0, payload), ByteOrder.LITTLE_ENDIAN);
            }
            return (int) total;
        } finally {
            release(state);
        }
    }

    @Override
    public T decode(DirectBuffer buffer, int offset, int length) {
        Regions.check(buffer, offset, length);
        final State state = acquire();
        try {
            final byte[] array;
            final int start;
            if (buffer.byteArray() != null) {
                array = buffer.byteArray();
                start = buffer.wrapAdjustment() + offset;
            } else {
                array = state.scratch(length);
                buffer.getBytes(offset, array, 0, length);
                start = 0;
            }
            int payload = length;
            if (checksum) {
                if (length < CHECKSUM_BYTES) {
                    throw new CodecException("a Kryo encoding with checksum is at least " + CHECKSUM_BYTES
                        + " bytes, the region has " + length);
                }
                payload = length - CHECKSUM_BYTES;
                final int stored = buffer.getInt(offset + payload, ByteOrder.LITTLE_ENDIAN);
                if (stored != crc(state.crc, array, start, payload)) {
                    throw new CodecException("Kryo region of " + length + " bytes failed its CRC-32C check: "
                        + "truncated or corrupted");
                }
            }
            final GuardedInput input = state.input;
            input.setBuffer(array, start, payload);
            final Object value;
            final int consumed;
            try {
                value = state.kryo.readClassAndObject(input);
                consumed = input.consumed();
            } catch (IllegalArgumentException e) {
                throw explainRegistration(e, "decode");
            } catch (RuntimeException e) {
                // KryoException, and whatever a serializer throws on bytes it did not write.
                throw new CodecException("Kryo could not decode a " + type.getName() + " from " + payload
                    + " bytes: " + e, e);
            } finally {
                input.setBuffer(EMPTY);
            }
            if (consumed != payload) {
                throw new CodecException("Kryo decoded a value from " + consumed + " of the region's "
                    + payload + " bytes: trailing bytes mean a corrupted region");
            }
            if (!type.isInstance(value)) {
                throw new CodecException("region decodes to " + (value == null ? "null" : value.getClass().getName())
                    + ", not a " + type.getName());
            }
            return type.cast(value);
        } finally {
            release(state);
        }
    }

    private static final byte[] EMPTY = new byte[0];

    private static int crc(CRC32C crc, byte[] bytes, int from, int length) {
        crc.reset();
        crc.update(bytes, from, length);
        return (int) crc.getValue();
    }

    private CodecException explainRegistration(IllegalArgumentException e, String what) {
        final String message = String.valueOf(e.getMessage());
        if (message.contains("not registered")) {
            final String first = message.split("\n", 2)[0];
            return new CodecException("KryoCodec<" + type.getSimpleName() + "> cannot " + what + ": " + first
                + ". Register it with KryoCodec.builder(" + type.getSimpleName() + ".class).register(...), "
                + "or opt out with registrationRequired(false)", e);
        }
        return new CodecException("Kryo could not " + what + " a " + type.getName() + ": " + message, e);
    }

    private State acquire() {
        final State state = states.get();
        if (state.inUse) {
            return newState();              // re-entrant use on this thread: a temporary state
        }
        state.inUse = true;
        return state;
    }

    private void release(State state) {
        state.inUse = false;
        if (state.output.getBuffer().length > RETAINED_SCRATCH_BYTES) {
            state.output.setBuffer(new byte[INITIAL_OUTPUT_BYTES], -1);
        }
        if (state.scratch.length > RETAINED_SCRATCH_BYTES) {
            state.scratch = EMPTY;
        }
    }

    private State newState() {
        final Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(registrationRequired);
        kryo.setReferences(references);
        kryo.setInstantiatorStrategy(new DefaultInstantiatorStrategy(new StdInstantiatorStrategy()));
        kryo.register(type);
        for (Registration<?> r : registrations) {
            r.apply(kryo);
        }
        if (customizer != null) {
            customizer.accept(kryo);
        }
        return new State(kryo);
    }

    @Override
    public String toString() {
        return "KryoCodec<" + type.getName() + ">";
    }

    /** One thread's Kryo and buffers. */
    private static final class State {
        final Kryo kryo;
        final Output output = new Output(INITIAL_OUTPUT_BYTES, -1);
        final GuardedInput input = new GuardedInput();
        final CRC32C crc = new CRC32C();
        byte[] scratch = EMPTY;
        boolean inUse;

        State(Kryo kryo) {
            this.kryo = kryo;
        }

        byte[] scratch(int length) {
            if (scratch.length < length) {
                scratch = new byte[Math.max(length, 64)];
            }
            return scratch;
        }
    }

    /**
     * An {@link Input} that refuses to allocate an array longer than the bytes it has left: every element of
     * a Kryo array takes at least one byte, so a longer length can only come from a corrupted region.
     */
    private static final class GuardedInput extends Input {
        private int start;

        GuardedInput() {
            super(EMPTY);
        }

        @Override
        public void setBuffer(byte[] bytes, int offset, int count) {
            super.setBuffer(bytes, offset, count);
            start = offset;
        }

        int consumed() {
            return position - start;
        }

        private void checkLength(int length, int minBytesEach) {
            if (length < 0 || (long) length * minBytesEach > limit - position) {
                throw new KryoException("array length " + length + " exceeds the " + (limit - position)
                    + " bytes left in the region");
            }
        }

        @Override
        public byte[] readBytes(int length) {
            checkLength(length, 1);
            return super.readBytes(length);
        }

        @Override
        public int[] readInts(int length) {
            checkLength(length, Integer.BYTES);
            return super.readInts(length);
        }

        @Override
        public int[] readInts(int length, boolean optimizePositive) {
            checkLength(length, 1);
            return super.readInts(length, optimizePositive);
        }

        @Override
        public long[] readLongs(int length) {
            checkLength(length, Long.BYTES);
            return super.readLongs(length);
        }

        @Override
        public long[] readLongs(int length, boolean optimizePositive) {
            checkLength(length, 1);
            return super.readLongs(length, optimizePositive);
        }

        @Override
        public float[] readFloats(int length) {
            checkLength(length, Float.BYTES);
            return super.readFloats(length);
        }

        @Override
        public double[] readDoubles(int length) {
            checkLength(length, Double.BYTES);
            return super.readDoubles(length);
        }

        @Override
        public short[] readShorts(int length) {
            checkLength(length, Short.BYTES);
            return super.readShorts(length);
        }

        @Override
        public char[] readChars(int length) {
            checkLength(length, Character.BYTES);
            return super.readChars(length);
        }

        @Override
        public boolean[] readBooleans(int length) {
            checkLength(length, 1);
            return super.readBooleans(length);
        }
    }

    /** A class to register, optionally with its serializer. */
    private static final class Registration<S> {
        final Class<S> type;
        final Serializer<S> serializer;

        Registration(Class<S> type, Serializer<S> serializer) {
            this.type = type;
            this.serializer = serializer;
        }

        void apply(Kryo kryo) {
            if (serializer == null) {
                kryo.register(type);
            } else {
                kryo.register(type, serializer);
            }
        }
    }

    /**
     * Configures a {@link KryoCodec}. Registrations are applied in call order to every per-thread Kryo, so
     * class ids agree across threads; the order must also stay the same across runs that share stored data.
     *
     * @param <T> the value type
     */
    public static final class Builder<T> {
        private final Class<T> type;
        private final List<Registration<?>> registrations = new ArrayList<>();
        private boolean registrationRequired = true;
        private boolean references;
        private boolean checksum = true;
        private Consumer<Kryo> customizer;

        private Builder(Class<T> type) {
            this.type = Objects.requireNonNull(type, "type");
        }

        /**
         * Registers a class of the object graph with Kryo's default serializer for it.
         *
         * @param cls the class
         * @return this builder
         */
        public Builder<T> register(Class<?> cls) {
            registrations.add(new Registration<>(Objects.requireNonNull(cls, "cls"), null));
            return this;
        }

        /**
         * Registers a class with a serializer of the caller's, e.g. a hand-written compact one.
         *
         * @param cls        the class
         * @param serializer its serializer; must be stateless or thread-confined, as every thread's Kryo
         *                   shares it
         * @param <S>        the class's type
         * @return this builder
         */
        public <S> Builder<T> register(Class<S> cls, Serializer<S> serializer) {
            registrations.add(new Registration<>(Objects.requireNonNull(cls, "cls"),
                Objects.requireNonNull(serializer, "serializer")));
            return this;
        }

        /**
         * Whether classes must be registered (default true). False lets Kryo write class names for
         * unregistered classes: convenient, larger, and a corrupted region could name any class.
         *
         * @param required the setting
         * @return this builder
         */
        public Builder<T> registrationRequired(boolean required) {
            this.registrationRequired = required;
            return this;
        }

        /**
         * Whether Kryo tracks shared and cyclic references (default false, as in Kryo 5). Turn on for object
         * graphs with cycles or shared sub-objects whose identity matters.
         *
         * @param enabled the setting
         * @return this builder
         */
        public Builder<T> references(boolean enabled) {
            this.references = enabled;
            return this;
        }

        /**
         * Whether encodings end with a CRC-32C that decode verifies (default true).
         *
         * @param enabled the setting
         * @return this builder
         */
        public Builder<T> checksum(boolean enabled) {
            this.checksum = enabled;
            return this;
        }

        /**
         * A last hook run on every new per-thread {@link Kryo}, after the registrations: for default
         * serializers and other settings this builder does not cover. Must give every thread the same result.
         *
         * @param customizer the hook
         * @return this builder
         */
        public Builder<T> configure(Consumer<Kryo> customizer) {
            this.customizer = Objects.requireNonNull(customizer, "customizer");
            return this;
        }

        /**
         * Builds the codec, creating one Kryo instance to surface configuration errors now.
         *
         * @return the codec
         */
        public KryoCodec<T> build() {
            return new KryoCodec<>(this);
        }
    }
}
