package io.starshard;

import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;

/** What the three live views of {@link ShardedHashMap} share. */
final class ViewSupport {
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
