// bench peer for bench/webhook/run.sh: what a Node team would write for the intake.
// node:http server; @octokit/webhooks verifyAndReceive checks X-Hub-Signature-256
// (HMAC-SHA256 of the raw body with the shared secret) and runs the handler; the handler
// deduplicates on the delivery id with `SET NX EX` (3 days, as zoneci keeps delivery marks)
// and queues the payload with `LPUSH`. Answers 202 like zoneci; 401 on a bad signature.
// usage: node server.mjs PORT REDIS_SOCKET [WORKERS]   (secret in ZONECI_GITHUB_SECRET)
// WORKERS > 1 forks that many node:cluster workers sharing the port.
import cluster from "node:cluster";
import http from "node:http";
import { Webhooks } from "@octokit/webhooks";
import Redis from "ioredis";

const [port, socket, workersArg] = process.argv.slice(2);
const workers = Number(workersArg || 1);

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => { for (const w of Object.values(cluster.workers)) w.kill("SIGTERM"); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  serve();
}

function serve() {
  const redis = new Redis({ path: socket });
  const webhooks = new Webhooks({ secret: process.env.ZONECI_GITHUB_SECRET });
  webhooks.onAny(async ({ id, payload }) => {
    const fresh = await redis.set(`peer:delivery:${id}`, "1", "EX", 259200, "NX");
    if (fresh === "OK") await redis.lpush("peer:queue", JSON.stringify(payload));
  });
  const server = http.createServer((req, res) => {
    if (req.method !== "POST") { res.writeHead(200).end("ok\n"); return; }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      try {
        await webhooks.verifyAndReceive({
          id: req.headers["x-github-delivery"],
          name: req.headers["x-github-event"],
          signature: req.headers["x-hub-signature-256"],
          payload: Buffer.concat(chunks).toString("utf8"),
        });
        res.writeHead(202).end();
      } catch (e) {
        res.writeHead(e.status || 401).end();
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(port), "127.0.0.1");
  process.on("SIGTERM", () => { server.close(); redis.disconnect(); process.exit(0); });
}
