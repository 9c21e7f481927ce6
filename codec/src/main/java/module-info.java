/**
 * Codecs: turning keys and values into bytes and back. Knows nothing about maps.
 */
module io.starshard.codec {
    requires transitive org.agrona;
    requires transitive com.esotericsoftware.kryo;
    requires org.objenesis;

    exports io.starshard.codec;
}
