// bench peer for bench/dispatch/run.sh: BullMQ as a Node team would run it. The parent
// forks WORKERS worker processes (a BullMQ Worker each, concurrency CONCURRENCY, a no-op
// processor), waits until they are connected, then adds N jobs keeping INFLIGHT adds in
// flight. Each processor start records Date.now() - job.timestamp (the producer's clock at
// add(); same host, same clock). It prints jobs/s (N over first add to last completion)
// and p50/p99 from add to processor start. Completed jobs stay in Redis (BullMQ's
// default), as zoneci keeps finished jobs and their history. CPU: process.cpuUsage() of
// the producer and every worker over the measured part (Node's start-up not counted).
// usage: node bench.mjs REDIS_SOCKET N [WORKERS] [CONCURRENCY] [INFLIGHT]
import { fork } from "node:child_process";
import { Queue, Worker } from "bullmq";

const QUEUE = "bench-dispatch";

if (process.argv[2] === "--worker") {
  worker(process.argv[3], Number(process.argv[4]));
} else {
  const [socket, n, workers = "4", concurrency = "8", inflight = "64"] = process.argv.slice(2);
  await parent(socket, Number(n), Number(workers), Number(concurrency), Number(inflight));
}

async function worker(socket, concurrency) {
  const lat = [];
  let done = 0, last = 0;
  const w = new Worker(QUEUE, async (job) => { lat.push(Date.now() - job.timestamp); },
    { connection: { path: socket, maxRetriesPerRequest: null }, concurrency });
  w.on("completed", () => { done++; last = Date.now(); });
  w.on("error", (e) => console.error("worker:", e.message));
  await w.waitUntilReady();
  process.on("disconnect", () => process.exit(1)); // the parent is gone
  const cpu0 = process.cpuUsage();
  process.send({ ready: true });
  const tick = setInterval(() => process.send({ done, last }), 20);
  process.on("message", async (m) => {
    if (m !== "report") return;
    clearInterval(tick);
    const cpu = process.cpuUsage(cpu0);
    await w.close();
    process.send({ done, last, lat, cpu: cpu.user + cpu.system }, () => process.exit(0));
  });
}

async function parent(socket, n, workers, concurrency, inflight) {
  const connection = { path: socket, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE, { connection });
  await queue.waitUntilReady();
  const kids = [], state = [], exits = [];
  let ready = 0;
  await new Promise((resolve) => {
    for (let i = 0; i < workers; i++) {
      const k = fork(new URL(import.meta.url).pathname, ["--worker", socket, String(concurrency)]);
      state.push({ done: 0, last: 0 });
      k.on("message", (m) => {
        if (m.ready && ++ready === workers) resolve();
        if (m.done !== undefined) state[i] = m;
      });
      kids.push(k);
      exits.push(new Promise((resolve) => k.on("exit", resolve)));
    }
  });
  const pids = kids.map((k) => k.pid).join(" ");
  console.log(`worker_pids ${pids}`);
  const t0 = Date.now(), cpu0 = process.cpuUsage();
  let next = 0;
  async function lane() {
    while (next < n) {
      const i = next++;
      await queue.add("job", { i });
    }
  }
  await Promise.all(Array.from({ length: inflight }, lane));
  const added = Date.now();
  while (state.reduce((s, x) => s + x.done, 0) < n) await new Promise((r) => setTimeout(r, 10));
  const finals = await Promise.all(kids.map((k, i) => new Promise((resolve) => {
    k.on("message", (m) => { if (m.lat) resolve(m); });
    k.send("report");
  })));
  const mine = process.cpuUsage(cpu0);
  const cpu = finals.reduce((s, f) => s + f.cpu, mine.user + mine.system);
  const end = Math.max(...finals.map((f) => f.last));
  const lat = finals.flatMap((f) => f.lat).sort((a, b) => a - b);
  const pct = (p) => lat[Math.max(0, Math.ceil(lat.length * p / 100) - 1)];
  console.log(`adds ${n} in ${((added - t0) / 1000).toFixed(2)} s (${(n / ((added - t0) / 1000)).toFixed(0)}/s), ${inflight} in flight`);
  console.log(`completed ${lat.length} in ${((end - t0) / 1000).toFixed(2)} s, ${workers} workers x concurrency ${concurrency}`);
  console.log(`jobs_per_s ${(lat.length / ((end - t0) / 1000)).toFixed(1)}`);
  console.log(`node_cpu_us_per_job ${(cpu / n).toFixed(1)} (producer and workers, from the first add to the report; start-up not counted)`);
  console.log(`add_to_start_ms p50 ${pct(50)} p99 ${pct(99)} max ${lat[lat.length - 1]} (${lat.length} jobs)`);
  await queue.close();
  // Reaped before this process exits, so that their CPU time reaches bench/dispatch/run.sh
  // (it reads its children's CPU from /proc).
  await Promise.all(exits);
  process.exit(0);
}
