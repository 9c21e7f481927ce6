package io.starshard.tests;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.minlog.Log;
import com.esotericsoftware.reflectasm.MethodAccess;
import io.starshard.ShardedHashMap;
import io.starshard.codec.Codec;
import io.starshard.offheap.Segment;
import org.agrona.DirectBuffer;
import org.junit.jupiter.api.Test;
import org.objenesis.Objenesis;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The one JVM flag the map needs, {@code --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED} (Agrona reaches
 * {@code jdk.internal.misc.Unsafe}): a JVM started without it must refuse to build a map, right there, with an
 * {@code IllegalStateException} that names the flag, and not fail later with an {@code IllegalAccessError} or
 * {@code NoClassDefFoundError} at the first write, far from the cause.
 *
 * <p>Runs {@link BuildMapWithoutAddExports} in a child JVM of the same {@code java.home}, on a class path made of
 * the code sources of the map's classes and their libraries, with a clean environment (no
 * {@code JAVA_TOOL_OPTIONS} and the like that could add the flag back). Each child is given 60 seconds.
 */
class JvmFlagsTest {
    private static final String FLAG = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    private static final long CHILD_SECONDS = 60;

    @Test
    void buildingAMapWithoutAddExportsFailsAtOnceNamingTheFlag() throws Exception {
        final Child child = runChild(List.of());
        final String result = child.result();
        assertTrue(result.startsWith("create "), () -> "without " + FLAG + " the map must refuse to be built"
            + " (create), not fail later; the child reported: " + result + "\n" + child.output);
        assertTrue(result.startsWith("create " + IllegalStateException.class.getName() + ": "),
            () -> "expected an IllegalStateException from create: " + result + "\n" + child.output);
        assertTrue(result.contains(FLAG), () -> "the message must name the flag to add: " + result);
    }

    /** The control: the same program and class path with the flag works, so the test above fails for its reason. */
    @Test
    void withAddExportsTheSameProgramBuildsAndWrites() throws Exception {
        final Child child = runChild(List.of(FLAG));
        assertEquals("ok", child.result(), () -> child.output);
    }

    /** A finished child: its combined output and the text after {@code RESULT }. */
    private record Child(String output) {
        String result() {
            return output.lines().filter(l -> l.startsWith(BuildMapWithoutAddExports.RESULT))
                .map(l -> l.substring(BuildMapWithoutAddExports.RESULT.length())).findFirst()
                .orElseThrow(() -> new AssertionError("the child printed no result line:\n" + output));
        }
    }

    private static Child runChild(List<String> jvmFlags) throws IOException, InterruptedException,
        URISyntaxException {
        final List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags);
        command.add("-cp");
        command.add(classPath());
        command.add(BuildMapWithoutAddExports.class.getName());
        final Path log = Files.createTempFile("starshard-jvm-flags", ".log");
        try {
            final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(log.toFile());
            for (String variable : List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "CLASSPATH")) {
                builder.environment().remove(variable);
            }
            final Process process = builder.start();
            if (!process.waitFor(CHILD_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("the child JVM did not finish within " + CHILD_SECONDS + " s: " + command + "\n"
                    + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Child(Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** Where the map, its modules, Agrona, Kryo with its dependencies, and the child's main class were loaded from. */
    private static String classPath() throws URISyntaxException {
        final Set<String> entries = new LinkedHashSet<>();
        for (Class<?> c : List.of(ShardedHashMap.class, Codec.class, Segment.class, DirectBuffer.class, Kryo.class,
                Objenesis.class, Log.class, MethodAccess.class, BuildMapWithoutAddExports.class)) {
            entries.add(Paths.get(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        return String.join(File.pathSeparator, entries);
    }
}
