package io.starshard.jmh.codec;

import io.starshard.codec.ByteArrayCodec;
import io.starshard.codec.DoubleCodec;
import io.starshard.codec.IntegerCodec;
import io.starshard.codec.KryoCodec;
import io.starshard.codec.LongCodec;
import io.starshard.codec.StringCodec;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Encode and decode cost of every built-in codec, and of {@link KryoCodec} for a small record.
 *
 * <p>What is measured: one call of the codec, nothing else. Values are built (and boxed) in setup; encodes
 * write into one pre-allocated {@link UnsafeBuffer} over a heap array, decodes read a region encoded in setup.
 * Each method returns its result (the encoded length or the decoded value), so JMH consumes it and nothing is
 * dead-code eliminated. Values sit in non-final fields, so the JIT cannot constant-fold them.
 *
 * <p>Expectations that {@code -prof gc} checks ({@code gc.alloc.rate.norm}):
 * <ul>
 *   <li>every built-in encode, primitive or boxed argument: 0 B/op;</li>
 *   <li>{@code decodeLong}, {@code decodeInt}, {@code decodeDouble} and the {@code byte[]} decode into a
 *       reused array: 0 B/op;</li>
 *   <li>the boxed decodes allocate the box, {@code String} decodes the byte copy and the string, the plain
 *       {@code byte[]} decode the new array, Kryo whatever its serializers allocate.</li>
 * </ul>
 * Run: {@code java -jar jmh/target/benchmarks.jar CodecBenchmark -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CodecBenchmark {
    /** Capacity of the encode destination: more than any encoding here. */
    private static final int OUT_BYTES = 256;
    /** 16 ASCII characters, 16 bytes of UTF-8. */
    static final String ASCII_16 = "AAPL.O-XNAS-0042";
    /** 16 characters with 2- and 3-byte UTF-8 sequences ("Grüße – 東京 €100!"), 26 bytes of UTF-8. */
    static final String NON_ASCII_16 = "Gr\u00fc\u00dfe \u2013 \u6771\u4eac \u20ac100!";
    /** Size of the {@code byte[]} payload. */
    static final int BYTES = 100;

    /**
     * A small value type without a built-in codec: three primitives and a short string.
     *
     * @param id     trade id
     * @param symbol instrument symbol
     * @param price  price
     * @param qty    quantity
     */
    public record Trade(long id, String symbol, double price, int qty) {
    }

    private final LongCodec longCodec = LongCodec.INSTANCE;
    private final IntegerCodec intCodec = IntegerCodec.INSTANCE;
    private final DoubleCodec doubleCodec = DoubleCodec.INSTANCE;
    private final StringCodec stringCodec = StringCodec.INSTANCE;
    private final ByteArrayCodec bytesCodec = ByteArrayCodec.INSTANCE;

    /** Encode destination, shared by every encode method. */
    private final UnsafeBuffer out = new UnsafeBuffer(new byte[OUT_BYTES]);
    private int maxLength;

    private long longValue;
    private Long boxedLong;
    private int intValue;
    private Integer boxedInt;
    private double doubleValue;
    private Double boxedDouble;
    private String ascii;
    private String nonAscii;
    private byte[] bytes;
    private byte[] reuse;

    private UnsafeBuffer longEncoded;
    private UnsafeBuffer intEncoded;
    private UnsafeBuffer doubleEncoded;
    private UnsafeBuffer asciiEncoded;
    private int asciiLength;
    private UnsafeBuffer nonAsciiEncoded;
    private int nonAsciiLength;
    private UnsafeBuffer bytesEncoded;

    /** JMH instantiates the benchmark class. */
    public CodecBenchmark() {
    }

    /** Builds the values and their encodings, and checks that each decodes back to its value. */
    @Setup(Level.Trial)
    public void setUp() {
        final SplittableRandom random = new SplittableRandom(0x5EED_C0DEL);
        maxLength = out.capacity();
        longValue = random.nextLong();
        boxedLong = longValue;                 // far outside the Long cache: a real box, built here
        intValue = random.nextInt() | 0x4000_0000;
        boxedInt = intValue;
        doubleValue = random.nextDouble() * 1e6;
        boxedDouble = doubleValue;
        ascii = new String(ASCII_16.toCharArray());     // not the interned literal
        nonAscii = new String(NON_ASCII_16.toCharArray());
        bytes = new byte[BYTES];
        for (int i = 0; i < BYTES; i++) {
            bytes[i] = (byte) random.nextInt();
        }
        reuse = new byte[BYTES];
        check(ascii.length() == 16 && nonAscii.length() == 16, "strings must have 16 chars");

        longEncoded = encoded(longCodec.encodeLong(longValue, out, 0, maxLength));
        check(longCodec.decodeLong(longEncoded, 0, LongCodec.WIDTH) == longValue, "long round trip");
        intEncoded = encoded(intCodec.encodeInt(intValue, out, 0, maxLength));
        check(intCodec.decodeInt(intEncoded, 0, IntegerCodec.WIDTH) == intValue, "int round trip");
        doubleEncoded = encoded(doubleCodec.encodeDouble(doubleValue, out, 0, maxLength));
        check(doubleCodec.decodeDouble(doubleEncoded, 0, DoubleCodec.WIDTH) == doubleValue, "double round trip");
        asciiLength = stringCodec.encode(ascii, out, 0, maxLength);
        asciiEncoded = encoded(asciiLength);
        check(asciiLength == 16 && ascii.equals(stringCodec.decode(asciiEncoded, 0, asciiLength)), "ASCII round trip");
        nonAsciiLength = stringCodec.encode(nonAscii, out, 0, maxLength);
        nonAsciiEncoded = encoded(nonAsciiLength);
        check(nonAsciiLength == 26 && nonAscii.equals(stringCodec.decode(nonAsciiEncoded, 0, nonAsciiLength)),
            "non-ASCII round trip (" + nonAsciiLength + " bytes)");
        bytesEncoded = encoded(bytesCodec.encode(bytes, out, 0, maxLength));
        check(Arrays.equals(bytes, bytesCodec.decode(bytesEncoded, 0, BYTES, reuse)), "byte[] round trip");
    }

    /** A copy of the first {@code length} bytes of {@link #out}, in an exactly sized buffer. */
    private UnsafeBuffer encoded(int length) {
        return copyOf(out, length);
    }

    private static UnsafeBuffer copyOf(UnsafeBuffer buffer, int length) {
        final byte[] copy = new byte[length];
        buffer.getBytes(0, copy);
        return new UnsafeBuffer(copy);
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("setup check failed: " + what);
        }
    }

    // ---------------------------------------------------------------------------------------------- Long

    /**
     * {@code encodeLong} of a primitive.
     *
     * @return the encoded length
     */
    @Benchmark
    public int longEncode() {
        return longCodec.encodeLong(longValue, out, 0, maxLength);
    }

    /**
     * {@code encode(Long)} of a pre-boxed value.
     *
     * @return the encoded length
     */
    @Benchmark
    public int longEncodeBoxed() {
        return longCodec.encode(boxedLong, out, 0, maxLength);
    }

    /**
     * {@code decodeLong}: no box.
     *
     * @return the value
     */
    @Benchmark
    public long longDecode() {
        return longCodec.decodeLong(longEncoded, 0, LongCodec.WIDTH);
    }

    /**
     * {@code decode}: returns a {@code Long}.
     *
     * @return the boxed value
     */
    @Benchmark
    public Long longDecodeBoxed() {
        return longCodec.decode(longEncoded, 0, LongCodec.WIDTH);
    }

    // ---------------------------------------------------------------------------------------------- Integer

    /**
     * {@code encodeInt} of a primitive.
     *
     * @return the encoded length
     */
    @Benchmark
    public int intEncode() {
        return intCodec.encodeInt(intValue, out, 0, maxLength);
    }

    /**
     * {@code encode(Integer)} of a pre-boxed value.
     *
     * @return the encoded length
     */
    @Benchmark
    public int intEncodeBoxed() {
        return intCodec.encode(boxedInt, out, 0, maxLength);
    }

    /**
     * {@code decodeInt}: no box.
     *
     * @return the value
     */
    @Benchmark
    public int intDecode() {
        return intCodec.decodeInt(intEncoded, 0, IntegerCodec.WIDTH);
    }

    /**
     * {@code decode}: returns an {@code Integer}.
     *
     * @return the boxed value
     */
    @Benchmark
    public Integer intDecodeBoxed() {
        return intCodec.decode(intEncoded, 0, IntegerCodec.WIDTH);
    }

    // ---------------------------------------------------------------------------------------------- Double

    /**
     * {@code encodeDouble} of a primitive.
     *
     * @return the encoded length
     */
    @Benchmark
    public int doubleEncode() {
        return doubleCodec.encodeDouble(doubleValue, out, 0, maxLength);
    }

    /**
     * {@code encode(Double)} of a pre-boxed value.
     *
     * @return the encoded length
     */
    @Benchmark
    public int doubleEncodeBoxed() {
        return doubleCodec.encode(boxedDouble, out, 0, maxLength);
    }

    /**
     * {@code decodeDouble}: no box.
     *
     * @return the value
     */
    @Benchmark
    public double doubleDecode() {
        return doubleCodec.decodeDouble(doubleEncoded, 0, DoubleCodec.WIDTH);
    }

    /**
     * {@code decode}: returns a {@code Double}.
     *
     * @return the boxed value
     */
    @Benchmark
    public Double doubleDecodeBoxed() {
        return doubleCodec.decode(doubleEncoded, 0, DoubleCodec.WIDTH);
    }

    // ---------------------------------------------------------------------------------------------- String

    /**
     * 16 ASCII characters: the fast path.
     *
     * @return the encoded length (16)
     */
    @Benchmark
    public int stringEncodeAscii() {
        return stringCodec.encode(ascii, out, 0, maxLength);
    }

    /**
     * 16 characters with non-ASCII ones: the fast path gives up at the third, then length scan and UTF-8 write.
     *
     * @return the encoded length (26)
     */
    @Benchmark
    public int stringEncodeNonAscii() {
        return stringCodec.encode(nonAscii, out, 0, maxLength);
    }

    /**
     * 16 ASCII bytes to a Latin-1 string.
     *
     * @return the string
     */
    @Benchmark
    public String stringDecodeAscii() {
        return stringCodec.decode(asciiEncoded, 0, asciiLength);
    }

    /**
     * 26 bytes of UTF-8, validated, to a 16-character string.
     *
     * @return the string
     */
    @Benchmark
    public String stringDecodeNonAscii() {
        return stringCodec.decode(nonAsciiEncoded, 0, nonAsciiLength);
    }

    // ---------------------------------------------------------------------------------------------- byte[]

    /**
     * 100 bytes, one bulk copy.
     *
     * @return the encoded length (100)
     */
    @Benchmark
    public int bytesEncode() {
        return bytesCodec.encode(bytes, out, 0, maxLength);
    }

    /**
     * 100 bytes into a new array.
     *
     * @return the new array
     */
    @Benchmark
    public byte[] bytesDecode() {
        return bytesCodec.decode(bytesEncoded, 0, BYTES);
    }

    /**
     * 100 bytes into the caller's array of the right length.
     *
     * @return the reused array
     */
    @Benchmark
    public byte[] bytesDecodeReuse() {
        return bytesCodec.decode(bytesEncoded, 0, BYTES, reuse);
    }

    // ---------------------------------------------------------------------------------------------- Kryo

    /**
     * The Kryo side, in its own state so that a Kryo failure cannot take the built-in benchmarks down with it:
     * {@code KryoCodec.of(Trade.class)} (registration required, CRC-32C trailer on), one {@link Trade}, and
     * its encoding.
     */
    @State(Scope.Thread)
    public static class KryoState {
        final KryoCodec<Trade> codec = KryoCodec.of(Trade.class);
        final UnsafeBuffer out = new UnsafeBuffer(new byte[OUT_BYTES]);
        Trade trade;
        UnsafeBuffer encoded;
        int length;

        /** JMH instantiates the state. */
        public KryoState() {
        }

        /**
         * Builds the record and its encoding; for {@code kryoDecode}, checks that it decodes back.
         *
         * @param params tells which method runs (the round trip is only checked where decode is measured)
         */
        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            trade = new Trade(new SplittableRandom(0x5EED_C0DEL).nextLong() >>> 1, "AAPL", 187.25, 300);
            length = codec.encode(trade, out, 0, out.capacity());
            encoded = copyOf(out, length);
            if (params.getBenchmark().endsWith(".kryoDecode")) {
                check(trade.equals(codec.decode(encoded, 0, length)), "Kryo round trip");
            }
        }
    }

    /**
     * A {@link Trade} through Kryo: per-thread state lookup, Kryo write, copy out, CRC-32C.
     *
     * @param k the codec, record and destination
     * @return the encoded length
     */
    @Benchmark
    public int kryoEncode(KryoState k) {
        return k.codec.encode(k.trade, k.out, 0, OUT_BYTES);
    }

    /**
     * A {@link Trade} back from Kryo: CRC-32C check, then a new record and its string.
     *
     * @param k the codec and the encoded record
     * @return the record
     */
    @Benchmark
    public Trade kryoDecode(KryoState k) {
        return k.codec.decode(k.encoded, 0, k.length);
    }
}
