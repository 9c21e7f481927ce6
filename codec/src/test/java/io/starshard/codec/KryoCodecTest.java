package io.starshard.codec;

import static io.starshard.codec.RoundTripAssertions.assertRoundTrip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** {@link KryoCodec}: records, object graphs, registration, custom serializers, threads. */
class KryoCodecTest {

    record Point(int x, int y) {
    }

    record Line(Point from, Point to, String label) {
    }

    record Unregistered(String name) {
    }

    record Holder(Unregistered inner) {
    }

    /** A plain mutable class graph: nested objects, lists, maps, a self-referencing list type. */
    static final class Person {
        String name;
        int age;
        Address address;
        List<Person> children = new ArrayList<>();
        Map<String, Integer> scores = new HashMap<>();

        Person() {
        }

        Person(String name, int age, Address address) {
            this.name = name;
            this.age = age;
            this.address = address;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Person p && age == p.age && Objects.equals(name, p.name)
                && Objects.equals(address, p.address) && Objects.equals(children, p.children)
                && Objects.equals(scores, p.scores);
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, age);
        }

        @Override
        public String toString() {
            return "Person(" + name + ", " + age + ", " + address + ", " + children + ", " + scores + ")";
        }
    }

    static final class Address {
        String street;
        long zip;

        Address() {
        }

        Address(String street, long zip) {
            this.street = street;
            this.zip = zip;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Address a && zip == a.zip && Objects.equals(street, a.street);
        }

        @Override
        public int hashCode() {
            return Objects.hash(street, zip);
        }

        @Override
        public String toString() {
            return street + "/" + zip;
        }
    }

    @Test
    void recordRoundTrips() {
        final KryoCodec<Line> codec = KryoCodec.of(Line.class, Point.class);
        assertTrue(codec.hasChecksum(), "checksum on by default");
        assertEquals(Line.class, codec.type());
        assertEquals(Codec.VARIABLE_LENGTH, codec.fixedLength());
        assertRoundTrip(codec, new Line(new Point(1, -2), new Point(Integer.MIN_VALUE, Integer.MAX_VALUE), "é😀"),
            null, "record");
        assertRoundTrip(codec, new Line(new Point(0, 0), new Point(0, 0), ""), null, "record, empty label");
        final KryoCodec<Line> noChecksum = KryoCodec.builder(Line.class).register(Point.class).checksum(false).build();
        final byte[] with = assertRoundTrip(codec, new Line(new Point(3, 4), new Point(5, 6), "x"), null, "crc");
        final byte[] without = assertRoundTrip(noChecksum, new Line(new Point(3, 4), new Point(5, 6), "x"), null,
            "no crc");
        assertEquals(with.length - 4, without.length, "the checksum is 4 bytes");
    }

    record Tagged(String name, List<String> tags) {
    }

    @Test
    void recordHoldingANonEmptyJdkImmutableListRoundTrips() {
        // Kryo writes this list's count as a flagged varint (same-class flag + count + 1): the count check must
        // read it that way, not as a plain varint.
        for (boolean checksum : new boolean[] {true, false}) {
            final KryoCodec<Tagged> codec = KryoCodec.builder(Tagged.class).register(List.of("a").getClass())
                .checksum(checksum).build();
            assertRoundTrip(codec, new Tagged("n", List.of("a")), null, "List.of(\"a\"), checksum " + checksum);
        }
    }

    @Test
    void pojoGraphWithNestedObjectsListsAndMapsRoundTrips() {
        final KryoCodec<Person> codec = KryoCodec.builder(Person.class)
            .register(Address.class).register(ArrayList.class).register(HashMap.class).build();
        final Person root = new Person("root", 50, new Address("Main St", 12345));
        final Person child = new Person("child é", 20, new Address("Side St 😀", Long.MAX_VALUE));
        child.scores.put("math", 9);
        child.children.add(new Person("grandchild", 1, null));
        root.children.add(child);
        root.children.add(new Person("other", 0, null));
        root.scores.put("a", 1);
        root.scores.put("b", -1);
        final byte[] encoded = assertRoundTrip(codec, root, null, "graph");
        final Person decoded = codec.decode(new UnsafeBuffer(encoded), 0, encoded.length);
        assertNotSame(root, decoded);
        assertEquals("grandchild", decoded.children.get(0).children.get(0).name);
    }

    @Test
    void unregisteredClassIsRejectedWithAdviceOnHowToRegister() {
        final KryoCodec<Holder> codec = KryoCodec.of(Holder.class);
        final UnsafeBuffer buffer = CodecTesting.Kind.HEAP.sentinelFilled(256);
        final CodecException e = assertThrows(CodecException.class,
            () -> codec.encode(new Holder(new Unregistered("n")), buffer, 0, 256));
        assertAdvice(e, Unregistered.class);
        CodecTesting.assertSentinelOutside(buffer, 0, 0, "a failed encode writes nothing");

        // The top-level class itself, when the value is an instance of an unregistered subclass-like type.
        final KryoCodec<Object> objects = KryoCodec.of(Object.class);
        assertAdvice(assertThrows(CodecException.class,
            () -> objects.encode(new Unregistered("top"), buffer, 0, 256)), Unregistered.class);
    }

    @Test
    void unregisteredClassNestedInAListStillGetsTheAdvice() {
        record Bag(List<Object> items) {
        }
        final KryoCodec<Bag> codec = KryoCodec.of(Bag.class, ArrayList.class);
        final List<Object> items = new ArrayList<>();
        items.add(new Point(1, 2));
        final CodecException e = assertThrows(CodecException.class,
            () -> codec.encode(new Bag(items), new UnsafeBuffer(new byte[256]), 0, 256));
        assertAdvice(e, Point.class);
    }

    record Bag(Object items) {
    }

    enum Color { RED, GREEN, BLUE }

    /** Encodes a Bag of {@code items} with the codec, expecting the unregistered-class failure, and returns it. */
    private static String unregisteredMessage(KryoCodec<Bag> codec, Object items) {
        final CodecException e = assertThrows(CodecException.class,
            () -> codec.encode(new Bag(items), new UnsafeBuffer(new byte[256]), 0, 256));
        final String m = e.getMessage();
        assertTrue(m.contains(items.getClass().getName()), "names the class: " + m);
        assertFalse(m.contains("register(" + items.getClass().getName().replace('$', '.')),
            "must not suggest naming a non-public JDK class: " + m);
        assertFalse(m.contains(".class).register(java.util."), "no JDK class literal that cannot compile: " + m);
        return m;
    }

    @Test
    void jdkImmutableCollectionsGetTheBuilderCallNotTheirNonPublicClass() {
        for (Object items : new Object[] {List.of("a"), List.of(1, 2, 3), List.of(1, 2, 3).subList(0, 2),
            Set.of("s"), Set.of(1, 2, 3), Map.of("k", 1), Map.of("k", 1, "l", 2), Stream.of("x").toList()}) {
            final String m = unregisteredMessage(KryoCodec.of(Bag.class), items);
            assertTrue(m.contains("KryoCodec.builder(Bag.class).registerJdkImmutableCollections()"), m);
            assertTrue(m.contains("registrationRequired(false)"), "names the opt-out: " + m);
            // The advice works.
            final KryoCodec<Bag> advised = KryoCodec.builder(Bag.class).registerJdkImmutableCollections().build();
            assertRoundTrip(advised, new Bag(items), null, "after the advice: " + items);
        }
    }

    @Test
    void otherNonPublicJdkClassesGetAdviceThatWorks() {
        final String asList = unregisteredMessage(KryoCodec.of(Bag.class), Arrays.asList("a", "b"));
        assertTrue(asList.contains(".register(Arrays.asList().getClass())"), asList);
        assertRoundTrip(KryoCodec.builder(Bag.class).register(Arrays.asList().getClass()).build(),
            new Bag(Arrays.asList("a", "b")), null, "Arrays.asList after the advice");

        final String singleton = unregisteredMessage(KryoCodec.of(Bag.class), Collections.singletonList("a"));
        assertTrue(singleton.contains(".register(Collections.singletonList(0).getClass())"), singleton);
        assertRoundTrip(KryoCodec.builder(Bag.class).register(Collections.singletonList(0).getClass()).build(),
            new Bag(Collections.singletonList("a")), null, "singletonList after the advice");

        final String enumSet = unregisteredMessage(KryoCodec.of(Bag.class), EnumSet.of(Color.RED));
        assertTrue(enumSet.contains(".register(EnumSet.noneOf(YourEnum.class).getClass())"), enumSet);
        assertRoundTrip(KryoCodec.builder(Bag.class).register(EnumSet.noneOf(Color.class).getClass())
            .register(Color.class).build(), new Bag(EnumSet.of(Color.RED, Color.BLUE)), null,
            "EnumSet after the advice");

        // No Kryo serializer reads an unmodifiable view back (it would add to it): advise a type that does.
        final String view = unregisteredMessage(KryoCodec.of(Bag.class),
            Collections.unmodifiableList(new ArrayList<>(List.of("a"))));
        assertTrue(view.contains("List.copyOf") && view.contains("registerJdkImmutableCollections()"), view);
        assertFalse(view.contains("registrationRequired(false)"), "the opt-out would not read it back either: " + view);
    }

    private static void assertAdvice(CodecException e, Class<?> unregistered) {
        final String m = e.getMessage();
        assertTrue(m.contains(unregistered.getName()), "names the class: " + m);
        assertTrue(m.contains(".register("), "says how to register: " + m);
        assertTrue(m.contains("registrationRequired(false)"), "names the opt-out: " + m);
    }

    @Test
    void explicitOptOutAllowsUnregisteredClasses() {
        final KryoCodec<Holder> codec = KryoCodec.builder(Holder.class).registrationRequired(false).build();
        assertRoundTrip(codec, new Holder(new Unregistered("free")), null, "opt-out");
        final KryoCodec<Object> any = KryoCodec.builder(Object.class).registrationRequired(false).build();
        assertRoundTrip(any, new Line(new Point(1, 1), new Point(2, 2), "any"), null, "opt-out, Object");
    }

    @Test
    void userSuppliedSerializerIsUsed() {
        final AtomicInteger writes = new AtomicInteger();
        final AtomicInteger reads = new AtomicInteger();
        final Serializer<Point> compact = new Serializer<>() {
            @Override
            public void write(Kryo kryo, Output output, Point p) {
                writes.incrementAndGet();
                output.writeByte(0x7E);                              // a marker only this serializer writes
                output.writeInt(p.x());
                output.writeInt(p.y());
            }

            @Override
            public Point read(Kryo kryo, Input input, Class<? extends Point> type) {
                reads.incrementAndGet();
                assertEquals(0x7E, input.readByte());
                return new Point(input.readInt(), input.readInt());
            }
        };
        final KryoCodec<Point> codec = KryoCodec.builder(Point.class).register(Point.class, compact).build();
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
        final int length = codec.encode(new Point(7, -7), buffer, 0, 64);
        assertEquals(1, writes.get());
        assertEquals(1 + 1 + 8 + 4, length, "class id, marker, two fixed ints, CRC");
        assertEquals(new Point(7, -7), codec.decode(buffer, 0, length));
        assertEquals(1, reads.get());

        final AtomicInteger configured = new AtomicInteger();
        final KryoCodec<Point> viaHook = KryoCodec.builder(Point.class)
            .configure(k -> {
                configured.incrementAndGet();
                k.register(Point.class, compact);
            }).build();
        assertRoundTrip(viaHook, new Point(1, 2), null, "serializer via configure()");
        assertTrue(configured.get() >= 1);
    }

    @Test
    void maximumSizeIsEnforcedBeforeWriting() {
        final KryoCodec<Line> codec = KryoCodec.of(Line.class, Point.class);
        final Line line = new Line(new Point(1, 2), new Point(3, 4), "a label of some length");
        final byte[] encoded = CodecTesting.encode(codec, line);
        final UnsafeBuffer exact = CodecTesting.Kind.DIRECT.sentinelFilled(encoded.length + 2);
        assertEquals(encoded.length, codec.encode(line, exact, 1, encoded.length));
        CodecTesting.assertSentinelOutside(exact, 1, 1 + encoded.length, "exact fit");
        final EncodingTooLargeException e = assertThrows(EncodingTooLargeException.class,
            () -> codec.encode(line, CodecTesting.Kind.HEAP.sentinelFilled(encoded.length), 0, encoded.length - 1));
        assertEquals(encoded.length, e.requiredBytes());
    }

    @Test
    void encodingIsDeterministicAcrossCodecInstancesAndThreads() throws Exception {
        final Line line = new Line(new Point(9, 8), new Point(7, 6), "same");
        final byte[] first = CodecTesting.encode(KryoCodec.of(Line.class, Point.class), line);
        final KryoCodec<Line> other = KryoCodec.of(Line.class, Point.class);
        final ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            final byte[] elsewhere = pool.submit(() -> CodecTesting.encode(other, line)).get();
            assertTrue(java.util.Arrays.equals(first, elsewhere), "equal values have identical encodings");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void reentrantUseOnOneThreadDoesNotCorruptTheOuterCall() {
        final KryoCodec<Point> inner = KryoCodec.of(Point.class);
        final KryoCodec<Point>[] self = newArray();
        final int[] depth = {0};
        final Serializer<Point> reentrant = new Serializer<>() {
            @Override
            public void write(Kryo kryo, Output output, Point p) {
                if (depth[0]++ > 0) {
                    output.writeInt(p.x());
                    output.writeInt(p.y());
                    depth[0]--;
                    return;
                }
                final UnsafeBuffer scratch = new UnsafeBuffer(new byte[64]);
                final int n = self[0].encode(new Point(p.y(), p.x()), scratch, 0, 64);  // same codec, same thread
                assertEquals(new Point(p.y(), p.x()), self[0].decode(scratch, 0, n));
                output.writeInt(p.x());
                output.writeInt(p.y());
                depth[0]--;
            }

            @Override
            public Point read(Kryo kryo, Input input, Class<? extends Point> type) {
                return new Point(input.readInt(), input.readInt());
            }
        };
        self[0] = KryoCodec.builder(Point.class).register(Point.class, reentrant).build();
        assertRoundTrip(self[0], new Point(1, 2), null, "re-entrant");
        assertRoundTrip(inner, new Point(3, 4), null, "plain");
    }

    @SuppressWarnings("unchecked")
    private static KryoCodec<Point>[] newArray() {
        return (KryoCodec<Point>[]) new KryoCodec<?>[1];
    }

    @Test
    void eightThreadsEncodeAndDecodeDistinctValuesConcurrently() throws Exception {
        final KryoCodec<Person> codec = KryoCodec.builder(Person.class)
            .register(Address.class).register(ArrayList.class).register(HashMap.class).build();
        final int threads = 8;
        final int perThread = CodecTesting.scaled(3000);
        final long seed = CodecTesting.seed();
        final CyclicBarrier start = new CyclicBarrier(threads);
        final ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            final List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                results.add(pool.submit(() -> {
                    final Random random = new Random(seed + id);
                    final UnsafeBuffer buffer = id % 2 == 0 ? CodecTesting.Kind.HEAP.allocate(1 << 12)
                        : CodecTesting.Kind.DIRECT.allocate(1 << 12);
                    start.await();
                    int verified = 0;
                    for (int i = 0; i < perThread; i++) {
                        final Person p = person(id, i, random);
                        final int offset = random.nextInt(16);
                        final int length = codec.encode(p, buffer, offset, (1 << 12) - offset);
                        final Person back = codec.decode(buffer, offset, length);
                        if (!p.equals(back)) {
                            throw new AssertionError("seed " + seed + ", thread " + id + ", value " + i + ": wrote "
                                + p + ", read " + back);
                        }
                        verified++;
                    }
                    return verified;
                }));
            }
            for (Future<Integer> f : results) {
                assertEquals(perThread, f.get(), "seed " + seed);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static Person person(int thread, int i, Random random) {
        final Person p = new Person("t" + thread + "-" + i + CodecTesting.randomString(random, 6), i,
            new Address("street " + thread, ((long) thread << 32) | i));
        final int kids = random.nextInt(3);
        for (int k = 0; k < kids; k++) {
            p.children.add(new Person("kid" + k + "-" + thread + "-" + i, k, null));
        }
        final Map<String, Integer> scores = new LinkedHashMap<>();
        scores.put("thread", thread);
        scores.put("i", i);
        p.scores.putAll(scores);
        return p;
    }

    @Test
    void rejectsValuesOfTheWrongClassAndNull() {
        final KryoCodec<Point> codec = KryoCodec.of(Point.class);
        @SuppressWarnings({"unchecked", "rawtypes"})
        final Codec<Object> raw = (Codec) codec;
        assertThrows(ClassCastException.class, () -> raw.encode("not a point", new UnsafeBuffer(new byte[64]), 0, 64));
        final NullPointerException e = assertThrows(NullPointerException.class,
            () -> codec.encode(null, new UnsafeBuffer(new byte[64]), 0, 64));
        assertEquals("value", e.getMessage());
    }

    @Test
    void decodedValueOfAnotherRegisteredClassIsRejected() {
        final KryoCodec<Point> points = KryoCodec.builder(Point.class).register(Line.class).build();
        final KryoCodec<Line> lines = KryoCodec.builder(Line.class).register(Point.class).build();
        // Same registration ids in a different order: a Line's bytes decode to some other class or fail.
        final byte[] encoded = CodecTesting.encode(lines, new Line(new Point(1, 2), new Point(3, 4), "l"));
        assertThrows(CodecException.class, () -> points.decode(new UnsafeBuffer(encoded), 0, encoded.length));
    }
}
