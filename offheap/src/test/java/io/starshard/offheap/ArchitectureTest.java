package io.starshard.offheap;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Raw memory has one choke point: only {@code MemoryAccess} may use Unsafe (in any spelling) or Agrona's
 * {@code UnsafeApi}/{@code UnsafeAccess}. Scans the main sources of this module and, when the checkout has them
 * next to it, of {@code core} and {@code codec}.
 */
class ArchitectureTest {
    /** Names that give raw memory access, matched as words in code (not in comments or strings). */
    private static final Pattern RAW_MEMORY = Pattern.compile(
        "\\bsun\\.misc\\.Unsafe\\b|\\bjdk\\.internal\\.misc\\b|\\bUnsafeApi\\b|\\bUnsafeAccess\\b|\\bsun\\.misc\\b"
            + "|\\bjdk\\.internal\\.misc\\.Unsafe\\b|\\bUnsafe\\s*\\.\\s*getUnsafe\\b|\\btheUnsafe\\b");
    private static final String ALLOWED = "MemoryAccess.java";

    /** Whether the code (comments and string literals removed) names a raw-memory API. */
    static boolean usesRawMemory(String source) {
        return RAW_MEMORY.matcher(codeOnly(source)).find();
    }

    /** The source with comments and the contents of string and char literals blanked out. */
    static String codeOnly(String source) {
        StringBuilder code = new StringBuilder(source.length());
        int i = 0;
        int n = source.length();
        while (i < n) {
            char c = source.charAt(i);
            if (c == '/' && i + 1 < n && source.charAt(i + 1) == '/') {
                while (i < n && source.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == '/' && i + 1 < n && source.charAt(i + 1) == '*') {
                int end = source.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                code.append(' ');
            } else if (c == '"' || c == '\'') {
                code.append(c);
                i++;
                while (i < n && source.charAt(i) != c) {
                    i += source.charAt(i) == '\\' ? 2 : 1;
                }
                code.append(c);
                i++;
            } else {
                code.append(c);
                i++;
            }
        }
        return code.toString();
    }

    private static List<Path> javaFiles(Path root) {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void onlyMemoryAccessTouchesUnsafe() throws IOException {
        Path own = Paths.get("src/main/java");
        List<Path> files = new ArrayList<>(javaFiles(own));
        assertTrue(files.contains(own.resolve("io/starshard/offheap/MemoryAccess.java")),
            "the scan must see this module's sources (working directory " + Paths.get("").toAbsolutePath() + ")");
        files.addAll(javaFiles(Paths.get("../core/src/main")));
        files.addAll(javaFiles(Paths.get("../codec/src/main")));
        List<String> offenders = new ArrayList<>();
        boolean sawAllowed = false;
        for (Path file : files) {
            String source = Files.readString(file, StandardCharsets.UTF_8);
            if (file.getFileName().toString().equals(ALLOWED) && file.startsWith(own)) {
                sawAllowed = usesRawMemory(source);
                continue;
            }
            if (usesRawMemory(source)) {
                offenders.add(file.toString());
            }
        }
        assertTrue(sawAllowed, "MemoryAccess no longer uses UnsafeApi? Then update this test's pattern.");
        assertEquals(List.of(), offenders, "only offheap's MemoryAccess may use Unsafe/UnsafeApi/UnsafeAccess");
    }

    @Test
    void theScannerRecognisesEverySpelling() {
        assertTrue(usesRawMemory("import sun.misc.Unsafe;"));
        assertTrue(usesRawMemory("import jdk.internal.misc.Unsafe;"));
        assertTrue(usesRawMemory("import org.agrona.UnsafeApi;"));
        assertTrue(usesRawMemory("import static org.agrona.UnsafeAccess.UNSAFE;"));
        assertTrue(usesRawMemory("Field f = Unsafe.class.getDeclaredField(\"x\"); f.get(theUnsafe);"));
        assertTrue(usesRawMemory("/* a comment */ sun.misc.Unsafe u; // and another"));
        assertTrue(usesRawMemory("x = org.agrona.UnsafeApi.getLong(null, a);"));
        assertFalse(usesRawMemory("// reads are not unsafe here; UnsafeBuffer is a buffer"));
        assertFalse(usesRawMemory("import org.agrona.concurrent.UnsafeBuffer;"));
        assertFalse(usesRawMemory("/** Only {@code MemoryAccess} uses {@code UnsafeApi}. */ final class X {}"));
        assertFalse(usesRawMemory("String s = \"sun.misc.Unsafe is denied\"; // UnsafeApi"));
    }
}
