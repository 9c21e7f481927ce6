package io.starshard;

import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;
import java.util.Spliterator;

/** What the three live views of {@link ShardedHashMap} share. */
final class ViewSupport {
    /**
     * What the views' spliterators report, as {@code ConcurrentHashMap}'s do. Not {@code SIZED}: the iterators
     * are weakly consistent, so a size taken before a traversal need not match what it sees, and a stream that
     * trusted it would fail ("End size ... is less than fixed size") under concurrent writes.
     */
    static final int CHARACTERISTICS = Spliterator.CONCURRENT | Spliterator.NONNULL;

    private ViewSupport() {
    }

    /**
     * {@code removeAll} that iterates the view (never the argument) and removes what {@code c} contains, as
     * {@code ConcurrentHashMap}'s views do: {@code AbstractSet}'s variant would call {@code remove} with the
     * argument's elements, which throws for a null element.
     *
     * @param view an iterator of the view, supporting {@code remove}
     * @param c    the elements to remove
     * @return whether the view changed
     */
    static boolean removeAllIterating(Iterator<?> view, Collection<?> c) {
        Objects.requireNonNull(c, "c");
        boolean modified = false;
        while (view.hasNext()) {
            if (c.contains(view.next())) {
                view.remove();
                modified = true;
            }
        }
        return modified;
    }
}
