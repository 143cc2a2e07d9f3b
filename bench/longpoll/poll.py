# Parks N long-poll claims on a running zoneci (PORT, runner token "tok", GitHub secret
# "x") over raw asyncio sockets (one socket and one small coroutine per claim, no
# thread), then reports:
#   - how many were parked at once: the server's own gauge zoneci_runner_claims_parked
#     and the client's count of claims sent and not yet answered, sampled together;
#   - the server's RSS and threads with them parked, and RSS per parked claim against the
#     idle figure the caller passes (IDLE_RSS_KB);
#   - the wake: one job made ready (a signed pull_request webhook); how long until the
#     first claim is answered with it, how many claims the wake resumed
#     (zoneci_runner_claims_woken_total delta), how many claim scripts Redis ran for it
#     (INFO commandstats: FCALL calls, delta over the wake; the router's own passes in
#     that second are in it too) and how many stay parked.
# A server without the two gauges (an older build, the peer) is measured too: parked is
# then the client's count.
# usage: PORT=8282 REDIS_SOCK=/tmp/x.sock IDLE_RSS_KB=12345 python3 poll.py N SERVER_PID
import asyncio, hashlib, hmac, json, os, subprocess, sys, time

N = int(sys.argv[1]); PID = int(sys.argv[2]); PORT = int(os.environ['PORT'])
WAIT = 30  # the server's maximum: the claims must still be parked when we look

def status():
    out = {}
    for l in open('/proc/%d/status' % PID):
        k, _, v = l.partition(':')
        if k in ('VmRSS', 'Threads'):
            out[k] = int(v.split()[0])
    return out

async def http(method, path, body, headers=()):
    r, w = await asyncio.open_connection('127.0.0.1', PORT)
    head = '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n%s\r\n' % (
        method, path, len(body), ''.join(h + '\r\n' for h in headers))
    w.write(head.encode() + body)
    await w.drain()
    data = await r.read()
    w.close()
    code = int(data.split(b' ', 2)[1]) if data else 0
    return code, data.partition(b'\r\n\r\n')[2]

def fcalls():
    out = subprocess.run(['redis-cli', '-s', os.environ['REDIS_SOCK'], 'info', 'commandstats'],
                         capture_output=True, text=True).stdout
    n = 0
    for l in out.splitlines():
        if l.startswith(('cmdstat_fcall:', 'cmdstat_evalsha:', 'cmdstat_eval:')):
            n += int(l.split('calls=')[1].split(',')[0])
    return n

async def metrics():
    _, body = await http('GET', '/metrics', b'')
    m = {}
    for l in body.decode().splitlines():
        if l.startswith('zoneci_runner_claims_'):
            k, v = l.split()
            m[k] = int(float(v))
    return m

class Claims:
    def __init__(self):
        self.sent = 0
        self.answered = {}
        self.first_200 = None

async def claim(i, st):
    body = json.dumps({'runner': 'r%d' % i, 'region': 'always', 'wait_seconds': WAIT}).encode()
    r, w = await asyncio.open_connection('127.0.0.1', PORT)
    w.write(b'POST /api/v1/runners/claim HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n'
            b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    await w.drain()
    st.sent += 1
    line = await r.readline()
    code = line.split()[1].decode() if line else 'closed'
    if code == '200' and st.first_200 is None:
        st.first_200 = time.monotonic()
    st.answered[code] = st.answered.get(code, 0) + 1
    w.close()

def webhook_job():
    sha = hashlib.sha1(str(time.time()).encode()).hexdigest()
    p = {'action': 'opened', 'number': 7,
         'pull_request': {'number': 7, 'title': 't', 'draft': False, 'user': {'login': 'o'},
                          'head': {'sha': sha, 'ref': 'f'}, 'base': {'sha': 'c' * 40, 'ref': 'main'}},
         'repository': {'full_name': 'acme/api', 'clone_url': 'https://github.com/acme/api.git'},
         'installation': {'id': 42}, 'sender': {'login': 'o'}}
    body = json.dumps(p).encode()
    sig = 'sha256=' + hmac.new(b'x', body, hashlib.sha256).hexdigest()
    return body, ['Content-Type: application/json', 'X-GitHub-Event: pull_request',
                  'X-GitHub-Delivery: lp-%s' % sha[:12], 'X-Hub-Signature-256: ' + sig]

async def main():
    st = Claims()
    t0 = time.monotonic()
    tasks = [asyncio.create_task(claim(i, st)) for i in range(N)]
    m = {}
    while time.monotonic() - t0 < 20:  # until every claim is parked, or 20 s
        await asyncio.sleep(0.5)
        m = await metrics()
        if m.get('zoneci_runner_claims_parked', 0) >= N:
            break
        if 'zoneci_runner_claims_parked' not in m and st.sent == N and time.monotonic() - t0 > 5:
            break  # no gauge: every claim sent, and 5 s for them to park
    s = status()
    open_now = st.sent - sum(st.answered.values())
    idle = int(os.environ.get('IDLE_RSS_KB', '0'))
    print('parked at once: server gauge %s, client open %d (of %d) after %.1f s' %
          (m.get('zoneci_runner_claims_parked', 'absent'), open_now, N, time.monotonic() - t0))
    print('with them parked: RSS %d KB, threads %d; per parked claim %.1f KB over idle' %
          (s['VmRSS'], s['Threads'], (s['VmRSS'] - idle) / max(1, open_now)))
    woken0 = m.get('zoneci_runner_claims_woken_total', 0)
    body, headers = webhook_job()
    f0 = fcalls()
    t1 = time.monotonic()
    code, resp = await http('POST', '/webhooks/github', body, headers)
    while st.first_200 is None and time.monotonic() - t1 < 5:
        await asyncio.sleep(0.001)
    await asyncio.sleep(1.0)  # let any extra wakes and their claims show
    f1 = fcalls()
    m2 = await metrics()
    print('one job (webhook %d): first claim answered %.1f ms after the webhook was sent; '
          'Redis scripts run in the next 1 s: %d; claims woken %s; still parked %s (client '
          'open %d); answered so far %s' %
          (code, ((st.first_200 or t1) - t1) * 1000, f1 - f0,
           m2.get('zoneci_runner_claims_woken_total', woken0) - woken0 if m2 else 'absent',
           m2.get('zoneci_runner_claims_parked', 'absent'),
           st.sent - sum(st.answered.values()), st.answered))
    await asyncio.gather(*tasks)
    print('all answered in %.1f s: %s' % (time.monotonic() - t0, st.answered))

asyncio.run(main())
