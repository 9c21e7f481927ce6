package io.starshard.codec;

import static io.starshard.codec.RoundTripAssertions.assertRoundTrip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * {@link KryoCodec} round trips of the collections, maps, enums and nested records values are made of, each with
 * the registrations a user needs for it.
 *
 * <p>Kryo writes a collection's count in different forms: a flagged varint when the element class is not known
 * from the declared type (a top-level value, a field of type {@code Object} or {@code List<Object>}), a plain
 * varint when it is (a {@code List<String>} field of an immutable list), and one or more bytes depending on the
 * count. The values below cover each form, with counts on both sides of the one-byte limits (64 and 128), so the
 * count check in {@code GuardedKryo} meets every one of them.
 */
class KryoCollectionsTest {

    enum Color { RED, GREEN, BLUE }

    /** An enum whose constants have bodies: each constant is an anonymous subclass of the enum. */
    enum Op {
        ADD { @Override int apply(int a, int b) { return a + b; } },
        SUB { @Override int apply(int a, int b) { return a - b; } };

        abstract int apply(int a, int b);
    }

    /** A field of type Object: Kryo writes the value's class, and collections write a flagged count. */
    record Bag(Object items) {
    }

    /** Final element types: the immutable collections write a plain count and elements without class ids. */
    record Typed(List<String> names, Set<Integer> ids, Map<String, Color> byName, List<Object> mixed) {
    }

    record Leaf(List<String> tags, Map<String, Integer> counts) {
    }

    record Middle(String name, Leaf leaf, Color color) {
    }

    record Root(long id, Middle middle, List<Middle> more) {
    }

    /** Ints 0 (inclusive) to n (exclusive), boxed. */
    private static List<Integer> ints(int n) {
        return IntStream.range(0, n).boxed().toList();
    }

    private static Map<String, Integer> map(int n) {
        return IntStream.range(0, n).boxed().collect(Collectors.toMap(i -> "k" + i, Function.identity()));
    }

    /** JDK immutable collections of every implementation class, around every count-encoding boundary. */
    private static List<Object> immutableCollections() {
        final List<Object> values = new ArrayList<>(List.of(
            List.of(), List.of("a"), List.of("a", "b"), List.of("a", "b", "c"), List.of(1, 2, 3, 4, 5),
            List.of("mixed", 1, 2L, Color.RED), List.of(List.of("nested"), List.of()),
            List.of(1, 2, 3, 4).subList(1, 3), List.copyOf(new ArrayList<>(List.of("x", "y"))), List.copyOf(List.of()),
            Set.of(), Set.of("a"), Set.of("a", "b"), Set.of(1, 2, 3, 4, 5),
            Map.of(), Map.of("k", 1), Map.of("a", 1, "b", 2, "c", 3),
            Map.ofEntries(Map.entry("x", Color.RED), Map.entry("y", Color.BLUE), Map.entry("z", Color.GREEN)),
            Map.copyOf(new HashMap<>(Map.of("h", List.of(1)))),
            ints(3).stream().map(String::valueOf).toList()));
        for (int n : new int[] {62, 63, 64, 126, 127, 128, 300}) {
            values.add(List.copyOf(ints(n)));
            values.add(Set.copyOf(ints(n)));
            values.add(Map.copyOf(map(n)));
        }
        return values;
    }

    private static KryoCodec<Object> anyWithImmutables() {
        return KryoCodec.builder(Object.class).registerJdkImmutableCollections().register(Color.class).build();
    }

    @Test
    void jdkImmutableCollectionsRoundTripAtTheTopLevelAndInAnObjectField() {
        final KryoCodec<Object> top = anyWithImmutables();
        final KryoCodec<Bag> bags = KryoCodec.builder(Bag.class).registerJdkImmutableCollections()
            .register(Color.class).build();
        final KryoCodec<Bag> bagsNoChecksum = KryoCodec.builder(Bag.class).registerJdkImmutableCollections()
            .register(Color.class).checksum(false).build();
        for (Object value : immutableCollections()) {
            final String what = value.getClass().getSimpleName() + " of " + ((value instanceof Map<?, ?> m)
                ? m.size() : ((java.util.Collection<?>) value).size());
            assertRoundTrip(top, value, null, "top level " + what);
            assertRoundTrip(bags, new Bag(value), null, "Object field " + what);
            assertRoundTrip(bagsNoChecksum, new Bag(value), null, "Object field, no checksum, " + what);
        }
    }

    @Test
    void immutableCollectionIdsAreThoseOfKryosOwnRegistrationMethod() {
        final List<Class<?>> classes = List.of(List.of().getClass(), List.of(1).getClass(),
            List.of(1, 2, 3).subList(0, 1).getClass(), Set.of().getClass(), Set.of(1).getClass(),
            Map.of().getClass(), Map.of(1, 2).getClass());
        final Kryo plain = new Kryo();
        plain.register(Bag.class);                   // the codec registers its own type first
        plain.register(Color.class);
        ImmutableCollectionsSerializers.registerSerializers(plain);
        final Map<Class<?>, Integer> codecIds = new HashMap<>();
        KryoCodec.builder(Bag.class).register(Color.class).registerJdkImmutableCollections()
            .configure(kryo -> classes.forEach(c -> codecIds.put(c, kryo.getRegistration(c).getId()))).build();
        for (Class<?> c : classes) {
            assertEquals(plain.getRegistration(c).getId(), codecIds.get(c), c.getName());
        }
        assertEquals(7, Set.copyOf(codecIds.values()).size(), "one id per implementation class");
    }

    @Test
    void decodedImmutableCollectionsAreStillImmutable() {
        final KryoCodec<Object> codec = anyWithImmutables();
        for (Object value : List.of(List.of("a"), Set.of("a", "b", "c"), Map.of("k", 1))) {
            final byte[] encoded = CodecTesting.encode(codec, value);
            final Object decoded = codec.decode(new UnsafeBuffer(encoded), 0, encoded.length);
            assertEquals(value, decoded);
            if (decoded instanceof List<?> list) {
                assertThrows(UnsupportedOperationException.class, () -> list.add(null));
            } else if (decoded instanceof Set<?> set) {
                assertThrows(UnsupportedOperationException.class, set::clear);
            } else {
                assertThrows(UnsupportedOperationException.class, ((Map<?, ?>) decoded)::clear);
            }
        }
    }

    @Test
    void jdkImmutableCollectionsRoundTripInFieldsWithFinalElementTypes() {
        final KryoCodec<Typed> codec = KryoCodec.builder(Typed.class).registerJdkImmutableCollections()
            .register(Color.class).build();
        for (int n : new int[] {0, 1, 2, 3, 63, 64, 127, 128, 300}) {
            final List<String> names = ints(n).stream().map(i -> "n" + i).toList();
            final Map<String, Color> byName = names.stream()
                .collect(Collectors.toUnmodifiableMap(Function.identity(), s -> Color.values()[s.length() % 3]));
            final List<Object> mixed = n == 0 ? List.of() : List.of("s", n, (long) n, Color.BLUE);
            assertRoundTrip(codec, new Typed(List.copyOf(names), Set.copyOf(ints(n)), byName, mixed), null,
                "Typed of " + n);
        }
        assertRoundTrip(codec, new Typed(List.of("a"), Set.of(7), Map.of("k", Color.RED), List.of("x")), null,
            "one of each, from the factories");
    }

    @Test
    void mutableListsAndMapsRoundTrip() {
        final KryoCodec<Object> codec = KryoCodec.builder(Object.class).register(ArrayList.class)
            .register(HashMap.class).register(LinkedHashMap.class).register(Color.class).build();
        final ArrayList<Object> withNulls = new ArrayList<>(Arrays.asList("a", null, 3, null));
        for (Object value : List.of(new ArrayList<>(), new ArrayList<>(List.of("a")), withNulls,
            new ArrayList<>(ints(300)), new HashMap<>(), new HashMap<>(Map.of("k", Color.GREEN)),
            new HashMap<>(map(300)), new LinkedHashMap<>(), new LinkedHashMap<>(map(130)),
            new ArrayList<>(List.of(new HashMap<>(Map.of("in", new ArrayList<>(List.of(1, 2)))))))) {
            assertRoundTrip(codec, value, null, value.getClass().getSimpleName() + " " + value);
        }
    }

    @Test
    void linkedHashMapKeepsItsOrder() {
        final KryoCodec<Bag> codec = KryoCodec.builder(Bag.class).register(LinkedHashMap.class).build();
        final LinkedHashMap<String, Integer> ordered = new LinkedHashMap<>();
        for (String key : List.of("zeta", "alpha", "mu", "beta", "omega")) {
            ordered.put(key, key.length());
        }
        assertRoundTrip(codec, new Bag(ordered), null, "LinkedHashMap");
        final byte[] encoded = CodecTesting.encode(codec, new Bag(ordered));
        final Object decoded = codec.decode(new UnsafeBuffer(encoded), 0, encoded.length).items();
        assertInstanceOf(LinkedHashMap.class, decoded);
        assertEquals(List.copyOf(ordered.keySet()), List.copyOf(((Map<?, ?>) decoded).keySet()), "insertion order");
    }

    @Test
    void listsAndMapsInFieldsWithFinalElementTypesRoundTrip() {
        // ArrayList/HashMap in List<String>/Map<String, Integer> fields: Kryo knows the element class, so it writes
        // a null flag with the count and no class ids.
        final KryoCodec<Leaf> codec = KryoCodec.builder(Leaf.class).register(ArrayList.class)
            .register(HashMap.class).build();
        for (int n : new int[] {0, 1, 3, 64, 200}) {
            final ArrayList<String> tags = new ArrayList<>(ints(n).stream().map(String::valueOf).toList());
            assertRoundTrip(codec, new Leaf(tags, new HashMap<>(map(n))), null, "Leaf of " + n);
        }
        assertRoundTrip(codec, new Leaf(new ArrayList<>(Arrays.asList("a", null)), new HashMap<>()), null,
            "a null element");
    }

    @Test
    void enumsRoundTrip() {
        final KryoCodec<Color> colors = KryoCodec.of(Color.class);
        for (Color c : Color.values()) {
            assertRoundTrip(colors, c, null, c.name());
        }
        // Constants with bodies are subclasses of the enum; registering the enum covers them.
        final KryoCodec<Op> ops = KryoCodec.of(Op.class);
        for (Op op : Op.values()) {
            assertRoundTrip(ops, op, null, op.name());
        }
        final KryoCodec<Bag> bags = KryoCodec.builder(Bag.class).register(Color.class).register(Op.class)
            .registerJdkImmutableCollections().build();
        assertRoundTrip(bags, new Bag(Op.SUB), null, "Op in an Object field");
        assertRoundTrip(bags, new Bag(List.of(Color.RED, Op.ADD, Color.BLUE, Op.SUB)), null, "enums in a list");
        assertRoundTrip(bags, new Bag(Map.of(Color.RED, Op.ADD, Color.GREEN, Op.SUB)), null, "enums in a map");
    }

    @Test
    void nestedRecordsHoldingListsAndMapsRoundTrip() {
        final Leaf leaf = new Leaf(List.of("t1", "t2", "t3"), Map.of("a", 1, "b", 2));
        final Middle middle = new Middle("m", leaf, Color.GREEN);
        final Root root = new Root(42L, middle,
            List.of(new Middle("empty", new Leaf(List.of(), Map.of()), Color.RED), middle));
        final KryoCodec<Root> codec = KryoCodec.builder(Root.class).register(Middle.class).register(Leaf.class)
            .register(Color.class).registerJdkImmutableCollections().build();
        assertRoundTrip(codec, root, null, "Root > Middle > Leaf, immutable collections");
        assertRoundTrip(KryoCodec.builder(Root.class).register(Middle.class).register(Leaf.class)
            .register(Color.class).registerJdkImmutableCollections().checksum(false).build(), root, null,
            "no checksum");

        final Leaf mutableLeaf = new Leaf(new ArrayList<>(List.of("t")), new HashMap<>(Map.of("c", 3)));
        final Root mutable = new Root(-1L, new Middle("mm", mutableLeaf, Color.BLUE),
            new ArrayList<>(List.of(new Middle("x", mutableLeaf, Color.RED))));
        final KryoCodec<Root> mutableCodec = KryoCodec.builder(Root.class).register(Middle.class)
            .register(Leaf.class).register(Color.class).register(ArrayList.class).register(HashMap.class).build();
        assertRoundTrip(mutableCodec, mutable, null, "Root > Middle > Leaf, ArrayList and HashMap");
    }
}
