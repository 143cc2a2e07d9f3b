# Parks N long-poll claims on a running zoneci (PORT, runner token "tok") and reports
# the server's RSS and thread count while they wait, then how they were answered.
# usage: PORT=8282 python3 poll.py N SERVER_PID
import asyncio, time, sys, os
N = int(sys.argv[1]); PID = int(sys.argv[2])
async def one(i, res):
    r, w = await asyncio.open_connection('127.0.0.1', int(os.environ['PORT']))
    body = ('{"runner":"r%d","region":"always","wait_seconds":6}' % i).encode()
    w.write(b"POST /api/v1/runners/claim HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await w.drain()
    line = await r.readline()
    res.append(line.split()[1])
    w.close()
def rss():
    s = open('/proc/%d/status' % PID).read()
    return [l for l in s.splitlines() if l.startswith(('VmRSS', 'Threads'))]
async def main():
    res = []
    t0 = time.time()
    tasks = [asyncio.create_task(one(i, res)) for i in range(N)]
    await asyncio.sleep(3)
    print("parked", N, "claims after 3 s:", rss(), "answered so far", len(res))
    await asyncio.gather(*tasks)
    print("all answered in %.1f s:" % (time.time() - t0), {s: res.count(s) for s in set(res)})
asyncio.run(main())
