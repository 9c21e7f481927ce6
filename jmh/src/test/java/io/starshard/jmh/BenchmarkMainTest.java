package io.starshard.jmh;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchmarkMainTest {

    @Test
    void forksGetTheFlagsDefinedInTheBuildAndTheJdk24OnesOnlyOn24AndLater() throws Exception {
        final List<String> on17 = BenchmarkMain.forkFlags(17);
        assertTrue(on17.contains("--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"), on17.toString());
        assertTrue(on17.contains("-Dchronicle.analytics.disable=true"), on17.toString());
        assertFalse(on17.stream().anyMatch(f -> f.contains("${")), "every property was filtered: " + on17);
        assertFalse(on17.contains("--sun-misc-unsafe-memory-access=allow"), "JDK 17 refuses to start with it");
        assertTrue(BenchmarkMain.forkFlags(25).contains("--sun-misc-unsafe-memory-access=allow"));
    }
}
