/**
 * Codecs: how keys and values become bytes for the off-heap map, and back.
 *
 * <p>{@link io.starshard.codec.Codec} is the contract; {@link io.starshard.codec.Codecs} picks the built-in
 * allocation-free codec for {@code Long}, {@code Integer}, {@code Double}, {@code String} and {@code byte[]},
 * and a {@link io.starshard.codec.KryoCodec} for any other type. Codecs only ever read and write the caller's
 * buffers; they never touch map memory.
 *
 * <p>The built-in codecs and {@link io.starshard.codec.KryoCodec} give more than the
 * {@link io.starshard.codec.Codec} contract asks: an encode that throws (null value, a value too large for
 * {@code maxLength}, a string with an unpaired surrogate, a Kryo failure) has written nothing at all, because each
 * one measures or serializes off to the side before its first write into the caller's buffer.
 */
package io.starshard.codec;
