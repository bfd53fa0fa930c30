// A threaded Java program: a thread pool, implicit null checks (the JVM turns a SIGSEGV
// into NullPointerException), garbage collection, a parallel stream, synchronized counters.
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

public class Threads {
    static long counter;

    static synchronized void bump() {
        counter++;
    }

    public static void main(String[] args) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<Long>> parts = new ArrayList<>();
        for (int t = 0; t < 32; t++) {
            final int id = t;
            parts.add(pool.submit(() -> {
                long s = 0;
                for (int i = 0; i < 2_000_000; i++) {
                    s += (i ^ id) % 7;
                }
                for (int i = 0; i < 10_000; i++) {
                    bump();
                }
                return s;
            }));
        }
        long total = 0;
        for (Future<Long> f : parts) {
            total += f.get();
        }
        pool.shutdown();
        int npe = 0;
        for (int i = 0; i < 1000; i++) {
            try {
                Object o = (i % 2 == 0) ? null : "x";
                o.hashCode();
            } catch (NullPointerException e) {
                npe++;
            }
        }
        List<int[]> junk = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            junk.add(new int[10000]);
            if (junk.size() > 100) {
                junk.clear();
            }
        }
        System.gc();
        ConcurrentHashMap<Integer, Integer> m = new ConcurrentHashMap<>();
        IntStream.range(0, 100_000).parallel().forEach(i -> m.put(i, i * 2));
        System.out.println("sum " + total + ", counter " + counter + ", NullPointerExceptions " + npe + ", map " + m.size());
    }
}
