"""Closed loop: N threads, each submits echo and waits for its result; prints tasks/s and percentiles."""
import sys, threading, time
from tasks import echo
warm, total, conc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def run(n):
    lat = []; lock = threading.Lock(); left = [n]
    def worker():
        while True:
            with lock:
                if left[0] == 0: return
                left[0] -= 1
            t = time.perf_counter(); echo.delay({}).get(timeout=60); d = time.perf_counter() - t
            with lock: lat.append(d)
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    t0 = time.perf_counter(); [t.start() for t in ts]; [t.join() for t in ts]
    return lat, time.perf_counter() - t0
run(warm)
lat, el = run(total); lat.sort()
p = lambda q: lat[min(len(lat)-1, int(q*len(lat)))]*1000
print(f"celery {total} tasks in {el:.1f}s = {total/el:.1f}/s p50 {p(.5):.1f} ms p95 {p(.95):.1f} ms p99 {p(.99):.1f} ms max {lat[-1]*1000:.1f} ms")
