package io.starshard.jmh;

import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * The entry point of {@code benchmarks.jar}: JMH's own command line, with the JVM flags every fork needs appended.
 *
 * <p>Why not {@code @Fork(jvmArgsAppend = ...)}: the flags would then be spelled out again in every benchmark
 * class, beside the build's own definition. They are defined once in the Maven build (the map's flags in the
 * root {@code pom.xml}, the benchmark peers' in {@code jmh/pom.xml}), copied into a resource by resource
 * filtering, and appended here to whatever {@code -jvmArgsAppend} the command line gives. The JDK 24+ flags are
 * added only when the forks run on JDK 24 or later, since JDK 17 refuses to start with them.
 */
public final class BenchmarkMain {
    private BenchmarkMain() {
    }

    /**
     * Runs JMH.
     *
     * @param args JMH's command line ({@code -h} lists it)
     * @throws Exception whatever JMH throws
     */
    public static void main(String[] args) throws Exception {
        final CommandLineOptions cmd;
        try {
            cmd = new CommandLineOptions(args);
        } catch (CommandLineOptionException e) {
            System.err.println("Error parsing command line: " + e.getMessage());
            System.exit(1);
            return;
        }
        if (cmd.shouldHelp() || cmd.shouldList() || cmd.shouldListWithParams() || cmd.shouldListProfilers()
            || cmd.shouldListResultFormats()) {
            org.openjdk.jmh.Main.main(args);
            return;
        }
        final List<String> append = new ArrayList<>(forkFlags(Runtime.version().feature()));
        if (cmd.getJvmArgsAppend().hasValue()) {
            append.addAll(cmd.getJvmArgsAppend().get());
        }
        final Options options = new OptionsBuilder().parent(cmd).jvmArgsAppend(append.toArray(new String[0])).build();
        new Runner(options).run();
    }

    /**
     * The flags every fork gets: the map's, the peers', and on JDK 24+ those newer JDKs need.
     *
     * @param jdkFeature the feature release of the JDK the forks run on
     * @return the flags
     * @throws IOException if the resource cannot be read
     */
    static List<String> forkFlags(int jdkFeature) throws IOException {
        final Properties flags = new Properties();
        try (InputStream in = BenchmarkMain.class.getResourceAsStream("jvm-flags.properties")) {
            if (in == null) {
                throw new IOException("jvm-flags.properties is missing from the benchmark jar");
            }
            flags.load(in);
        }
        final List<String> result = new ArrayList<>();
        result.addAll(split(flags.getProperty("map")));
        result.addAll(split(flags.getProperty("peers")));
        if (jdkFeature >= 24) {
            result.addAll(split(flags.getProperty("jdk24")));
        }
        return result;
    }

    private static List<String> split(String flags) {
        return flags == null || flags.isBlank() ? List.of() : Arrays.asList(flags.trim().split("\\s+"));
    }
}
