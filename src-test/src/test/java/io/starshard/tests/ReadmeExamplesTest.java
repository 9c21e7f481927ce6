package io.starshard.tests;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every {@code java} block of the README and of the user pages in {@code docs/} compiles against the library and
 * its {@code main} runs: the examples a user copies first cannot silently rot.
 */
class ReadmeExamplesTest {
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS_NAME = Pattern.compile("public class (\\w+)");

    @TestFactory
    Stream<DynamicTest> everyJavaBlockCompilesAndRuns() throws IOException {
        final Path readme = findReadme();
        final List<Path> pages = new ArrayList<>(List.of(readme));
        try (Stream<Path> docs = Files.list(readme.resolveSibling("docs"))) {
            docs.filter(p -> p.getFileName().toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        final List<DynamicTest> tests = new ArrayList<>();
        for (Path page : pages) {
            final Matcher m = JAVA_BLOCK.matcher(Files.readString(page, StandardCharsets.UTF_8));
            while (m.find()) {
                final String code = m.group(1);
                final Matcher name = CLASS_NAME.matcher(code);
                assertTrue(name.find(), "each example in " + page.getFileName() + " is a complete public class:\n"
                    + code);
                tests.add(DynamicTest.dynamicTest(page.getFileName() + ": " + name.group(1),
                    () -> compileAndRun(name.group(1), code)));
            }
        }
        assertFalse(tests.isEmpty(), "the README has Java examples");
        return tests.stream();
    }

    private static void compileAndRun(String className, String code) throws Exception {
        final Path dir = Files.createTempDirectory("readme-example");
        try {
            compileAndRunIn(dir, className, code);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path file : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(file);
                }
            }
        }
    }

    private static void compileAndRunIn(Path dir, String className, String code) throws Exception {
        final Path source = dir.resolve(className + ".java");
        Files.writeString(source, code, StandardCharsets.UTF_8);
        final JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        final ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        final int status = javac.run(null, null, diagnostics, "-Xlint:all,-path", "-Werror",
            "-classpath", System.getProperty("java.class.path"), "-d", dir.toString(), source.toString());
        assertEquals(0, status, "README example " + className + " does not compile:\n" + diagnostics);
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()},
                ReadmeExamplesTest.class.getClassLoader())) {
            final Method main = loader.loadClass(className).getMethod("main", String[].class);
            final PrintStream out = System.out;
            final ByteArrayOutputStream printed = new ByteArrayOutputStream();
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            try {
                main.invoke(null, (Object) new String[0]);
            } finally {
                System.setOut(out);
            }
            assertFalse(printed.toString(StandardCharsets.UTF_8).isBlank(), className + " printed its results");
        }
    }

    private static Path findReadme() {
        for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("README.md")) && Files.isDirectory(dir.resolve("src-test"))) {
                return dir.resolve("README.md");
            }
        }
        throw new IllegalStateException("README.md not found above " + Paths.get("").toAbsolutePath());
    }
}
