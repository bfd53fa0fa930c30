"""Python threads: a pool, locks, a condition, queues and a thread-local."""
import concurrent.futures
import queue
import threading

counter = 0
lock = threading.Lock()


def work(n):
    global counter
    s = sum((i ^ n) % 7 for i in range(20000))
    for _ in range(1000):
        with lock:
            counter += 1
    return s


with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
    total = sum(ex.map(work, range(64)))

q = queue.Queue()
cond = threading.Condition()
ready = []


def producer(i):
    with cond:
        ready.append(i)
        cond.notify_all()
    q.put(i * i)


threads = [threading.Thread(target=producer, args=(i,)) for i in range(32)]
for t in threads:
    t.start()
with cond:
    cond.wait_for(lambda: len(ready) == 32, timeout=30)
for t in threads:
    t.join()
squares = sorted(q.get() for _ in range(32))
local = threading.local()
local.x = "main"
seen = []
t = threading.Thread(target=lambda: seen.append(getattr(local, "x", "unset")))
t.start()
t.join()
print(f"sum {total}, counter {counter}, squares {sum(squares)}, thread-local in another thread: {seen[0]}")
