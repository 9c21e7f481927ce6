package io.starshard.codec;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.DefaultInstantiatorStrategy;
import java.lang.reflect.Modifier;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
 * or the first encode fails with a {@link CodecException} naming the class and the builder call to add. The
 * JDK's immutable collections ({@code List.of}, {@code Set.of}, {@code Map.of}, {@code copyOf}...), whose classes
 * are not public, are registered together by {@link Builder#registerJdkImmutableCollections()}.
 * {@link Builder#registrationRequired(boolean) registrationRequired(false)} is the explicit opt-out.
 *
 * <p><b>Corruption.</b> Kryo trusts the lengths it reads: a flipped bit in an array or collection length can
 * make it allocate gigabytes before it notices the input is too short. By default every encoding therefore
 * ends with a CRC-32C of the Kryo bytes (4 bytes, hardware-accelerated), verified before Kryo sees the
 * region, so truncated and corrupted regions are rejected up front. Without the checksum
 * ({@link Builder#checksum(boolean) checksum(false)}, 4 bytes less for callers who trust their storage) the
 * reader still refuses any array, string, collection or map count larger than the bytes left (see
 * {@code GuardedKryo}), and reads Kryo's strings strictly (a byte that cannot start or continue a character is
 * an error, where Kryo itself would keep a character of an earlier value), so a corrupted region still gives a
 * {@link CodecException} or a value, never an {@link OutOfMemoryError}. The count check refuses one kind of
 * intact value: with references off, a collection or map of more elements than bytes follow its count, whose
 * elements all encode to no bytes (e.g. records without components); {@link Builder#references(boolean)
 * references(true)} gives each element a marker byte.
 *
 * <p><b>Primitive classes.</b> {@code KryoCodec.builder(short.class)} means {@code Short}: values are always
 * boxed, and {@link #type()} is the wrapper. {@code void} and {@code Void}, which have no non-null values, are
 * rejected.
 *
 * <p><b>Keys.</b> The map compares keys by their bytes, so a type used as a key must serialize
 * deterministically: records and plain objects of primitives, strings and lists do; objects holding hash sets
 * or hash maps generally do not, nor do those holding {@code Set.of} or {@code Map.of} collections, whose
 * iteration order changes from one JVM run to the next.
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
            } catch (RuntimeException e) {
                // KryoException (which wraps what a nested field's serializer threw), IllegalArgumentException
                // for an unregistered class at the top level, and whatever a custom serializer throws.
                throw failure(e, "encode", value.getClass());
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
            } catch (RuntimeException e) {
                // KryoException, and whatever a serializer throws on bytes it did not write.
                throw failure(e, "decode", type);
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

    /**
     * The wrapper of a primitive class (values reach a codec boxed, so {@code short.class} could never match
     * one), the class itself otherwise; {@code void} and {@code Void} have no values to encode.
     */
    @SuppressWarnings("unchecked")
    static <T> Class<T> boxed(Class<T> type) {
        if (type == void.class || type == Void.class) {
            throw new IllegalArgumentException("type " + type.getName() + " has no non-null values to encode");
        }
        if (!type.isPrimitive()) {
            return type;
        }
        return (Class<T>) java.lang.invoke.MethodType.methodType(type).wrap().returnType();
    }

    private static int crc(CRC32C crc, byte[] bytes, int from, int length) {
        crc.reset();
        crc.update(bytes, from, length);
        return (int) crc.getValue();
    }

    /**
     * The exception for a Kryo failure. An unregistered class is reported with the call that registers it, also
     * when Kryo met it deep in the object graph: there Kryo wraps its {@link IllegalArgumentException} in a
     * {@link KryoException} carrying the serialization trace, so the whole cause chain is searched.
     */
    private CodecException failure(RuntimeException e, String what, Class<?> subject) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            final String message = t.getMessage();
            if (t instanceof IllegalArgumentException && message != null && message.contains(NOT_REGISTERED)) {
                final String first = message.split("\n", 2)[0];
                final String name = first.substring(first.indexOf(NOT_REGISTERED) + NOT_REGISTERED.length()).trim();
                final String where = t == e ? "" : " (" + trace(e) + ")";
                return new CodecException("KryoCodec<" + type.getSimpleName() + "> cannot " + what + ": class "
                    + name + " is not registered" + where + ". " + registrationAdvice(name), e);
            }
        }
        return new CodecException("Kryo could not " + what + " a " + subject.getName()
            + (what.equals("decode") ? " (corrupted region, or different registrations than when encoded)" : "")
            + ": " + e, e);
    }

    private static final String NOT_REGISTERED = "Class is not registered:";

    /**
     * How to register the class Kryo names. A JDK class that is not public (or not exported) cannot be named in
     * a {@code register(X.class)} call, so it gets advice that compiles and works: the builder call for the
     * immutable collections, an instance's {@code getClass()} where Kryo has a serializer for the class, and
     * otherwise a type Kryo can read back.
     */
    private String registrationAdvice(String name) {
        final String builder = "KryoCodec.builder(" + type.getSimpleName() + ".class)";
        final String keepOrder = " (same registrations in the same order wherever the data is read), "
            + "or opt out with registrationRequired(false)";
        if (name.startsWith("java.util.ImmutableCollections$")) {
            return "It is one of the JDK's immutable collections (List.of, Set.of, Map.of, Map.ofEntries, copyOf, "
                + "Stream.toList), whose classes are not public: register them all with " + builder
                + ".registerJdkImmutableCollections()" + keepOrder;
        }
        final String instance = JDK_INSTANCES.get(name);
        final Class<?> jdkClass = jdkClass(name);
        if (instance != null) {
            return "It is a JDK class that is not public, and Kryo has a serializer for it: register it through an "
                + "instance, " + builder + ".register(" + instance + ".getClass())" + keepOrder;
        }
        if (jdkClass != null && EnumSet.class.isAssignableFrom(jdkClass)) {
            return "It is a JDK EnumSet class, which is not public, and Kryo has a serializer for it: register it "
                + "through an instance, " + builder + ".register(EnumSet.noneOf(YourEnum.class).getClass())"
                + keepOrder;
        }
        if (jdkClass != null && !nameable(jdkClass)) {
            // Registering by instance would not help: Kryo has no serializer made for such a class, and its
            // generic ones can fail to read it back (a collection serializer cannot add to an unmodifiable view).
            return "It is a JDK class that is not public, so code cannot register it, and Kryo has no serializer "
                + "made for it: encode a type Kryo reads back instead, e.g. a List.copyOf, Set.copyOf or Map.copyOf "
                + "copy (with " + builder + ".registerJdkImmutableCollections()) or an ArrayList, HashSet or HashMap "
                + "copy (with " + builder + ".register(ArrayList.class) and so on)";
        }
        final String source = jdkClass != null ? jdkClass.getCanonicalName() : name.replace('$', '.');
        return "Register it with " + builder + ".register(" + source + ".class)" + keepOrder;
    }

    /**
     * Non-public JDK classes that Kryo has a default serializer for, by name, with an expression whose class it
     * is. Built from the instances, so the names are those of the running JDK.
     */
    private static final Map<String, String> JDK_INSTANCES = Map.of(
        Arrays.asList().getClass().getName(), "Arrays.asList()",
        Collections.emptyList().getClass().getName(), "Collections.emptyList()",
        Collections.emptySet().getClass().getName(), "Collections.emptySet()",
        Collections.emptyMap().getClass().getName(), "Collections.emptyMap()",
        Collections.singletonList(0).getClass().getName(), "Collections.singletonList(0)",
        Collections.singleton(0).getClass().getName(), "Collections.singleton(0)",
        Collections.singletonMap(0, 0).getClass().getName(), "Collections.singletonMap(0, 0)");

    /** The JDK class (bootstrap or platform loader) of that name, without initializing it; null if none. */
    private static Class<?> jdkClass(String name) {
        try {
            return Class.forName(name, false, ClassLoader.getPlatformClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return null;                    // an application class, or an array as Kryo names it ("X[]")
        }
    }

    /** Whether code outside the JDK can write {@code cls} as a class literal. */
    private static boolean nameable(Class<?> cls) {
        if (cls.isAnonymousClass() || cls.isLocalClass()) {
            return false;
        }
        for (Class<?> c = cls; c != null; c = c.getDeclaringClass()) {
            if (!Modifier.isPublic(c.getModifiers())) {
                return false;
            }
        }
        return cls.getModule().isExported(cls.getPackageName());
    }

    /** Kryo's serialization trace (the field path), from a {@link KryoException} message, on one line. */
    private static String trace(RuntimeException e) {
        final String message = String.valueOf(e.getMessage());
        final int at = message.indexOf("Serialization trace:");
        final String trace = at < 0 ? message : message.substring(at);
        return trace.replaceAll("\\s*\\n\\s*", " ").trim();
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
        state.input.trimChars();
    }

    private State newState() {
        final Kryo kryo = new GuardedKryo();
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

        /** Drops a character scratch array that one large string grew, as for the other scratch arrays. */
        void trimChars() {
            if (chars.length > RETAINED_SCRATCH_BYTES) {
                chars = new char[32];
            }
        }

        /**
         * Kryo's string format, read strictly. The ASCII form (a run of bytes whose last one has bit 7 set) is
         * Kryo's own reader, which stops at the region's end. The UTF-8 form is a flagged varint count + 1 and
         * then one to three bytes per {@code char}; Kryo's own reader would allocate {@code count} chars before
         * looking at the bytes, and skips bytes that cannot start a character without writing the char, leaving
         * one from an earlier string. This one checks the count against the bytes left, and rejects bad lead,
         * continuation and overlong bytes.
         */
        @Override
        public String readString() {
            if (!readVarIntFlag()) {
                return super.readString();
            }
            final int countPlusOne = readVarIntFlag(true);
            if (countPlusOne == 0) {
                return null;
            }
            final int count = countPlusOne - 1;
            readUtf8(count);
            return new String(chars, 0, count);
        }

        @Override
        public StringBuilder readStringBuilder() {
            final String value = readString();
            return value == null ? null : new StringBuilder(value);
        }

        private void readUtf8(int count) {
            final int end = limit;
            if (count < 0 || count > end - position) {
                throw new KryoException("string of " + Integer.toUnsignedString(count) + " chars exceeds the "
                    + (end - position) + " bytes left in the region");
            }
            if (chars.length < count) {
                chars = new char[count];
            }
            final char[] out = chars;
            final byte[] in = buffer;
            int p = position;
            for (int i = 0; i < count; i++) {
                if (p >= end) {
                    throw truncatedString();
                }
                final int b = in[p++] & 0xFF;
                final int c;
                if (b < 0x80) {
                    c = b;
                } else if (b >= 0xC0 && b < 0xE0) {
                    if (p >= end) {
                        throw truncatedString();
                    }
                    c = (b & 0x1F) << 6 | continuation(in[p++]);
                    if (c < 0x80) {
                        throw badString("overlong 2-byte character");
                    }
                } else if (b >= 0xE0 && b < 0xF0) {
                    if (p + 1 >= end) {
                        throw truncatedString();
                    }
                    c = (b & 0x0F) << 12 | continuation(in[p++]) << 6 | continuation(in[p++]);
                    if (c < 0x800) {
                        throw badString("overlong 3-byte character");
                    }
                } else {
                    throw badString("byte 0x" + Integer.toHexString(b) + " cannot start a character");
                }
                out[i] = (char) c;
            }
            position = p;
        }

        private static int continuation(byte b) {
            if ((b & 0xC0) != 0x80) {
                throw badString("byte 0x" + Integer.toHexString(b & 0xFF) + " is not a continuation byte");
            }
            return b & 0x3F;
        }

        private static KryoException truncatedString() {
            return new KryoException("string runs past the end of the region");
        }

        private static KryoException badString(String what) {
            return new KryoException("malformed string: " + what);
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

    /**
     * The JDK's immutable collection classes, each once, in the order Kryo's
     * {@code ImmutableCollectionsSerializers.registerSerializers} registers them.
     */
    private static final List<Class<?>> JDK_IMMUTABLE_COLLECTIONS = List.copyOf(new LinkedHashSet<>(List.of(
        List.of().getClass(), List.of(1).getClass(), List.of(1, 2, 3, 4).getClass(),
        List.of(1, 2, 3, 4).subList(0, 2).getClass(),
        Map.of().getClass(), Map.of(1, 2).getClass(), Map.of(1, 2, 3, 4).getClass(),
        Set.of().getClass(), Set.of(1).getClass(), Set.of(1, 2, 3, 4).getClass())));

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
            this.type = boxed(Objects.requireNonNull(type, "type"));
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
         * Registers the JDK's immutable collections: the classes of the lists, sets and maps that
         * {@code List.of}, {@code List.copyOf}, {@code Stream.toList}, {@code Set.of}, {@code Set.copyOf},
         * {@code Map.of}, {@code Map.ofEntries} and {@code Map.copyOf} return, and of such a list's
         * {@code subList}. Those classes are not public, so {@link #register(Class)} cannot name them.
         *
         * <p>They take their place in the registration order like {@code register} calls, one per
         * implementation class the running JDK uses (seven, in the same order, on JDK 17 and 25), in the order
         * of Kryo's {@code ImmutableCollectionsSerializers.registerSerializers}, so the class ids are those a
         * plain Kryo gets from that method at the same point of its registrations. A value reads back as an
         * equal immutable collection, not always of the same implementation class (a {@code subList} reads back
         * as a {@code List.of} list), and null elements, which only {@code Stream.toList} allows, cannot be
         * encoded.
         *
         * @return this builder
         */
        public Builder<T> registerJdkImmutableCollections() {
            for (Class<?> cls : JDK_IMMUTABLE_COLLECTIONS) {
                register(cls);
            }
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
