/**
 * Codecs: how keys and values become bytes for the off-heap map, and back.
 *
 * <p>{@link io.starshard.codec.Codec} is the contract; {@link io.starshard.codec.Codecs} picks the built-in
 * allocation-free codec for {@code Long}, {@code Integer}, {@code Double}, {@code String} and {@code byte[]},
 * and a {@link io.starshard.codec.KryoCodec} for any other type. Codecs only ever read and write the caller's
 * buffers; they never touch map memory.
 */
package io.starshard.codec;
