// BullMQ doing what `shelfsync-bench queue` does, on the local Redis:
// throughput of no-op jobs (enqueued in bulks of 1,000, then processed by one
// worker with the same concurrency; completion is recorded in Redis and the
// job removed, as Shelfsync deletes a finished job's row), and enqueue-to-start
// latency of single jobs into an idle worker, 20 ms apart.
//
// usage: node bench.mjs [jobs=20000] [concurrency=16] [samples=500]
import { Queue, Worker } from 'bullmq';

const [jobs = 20000, concurrency = 16, samples = 500] = process.argv.slice(2).map(Number);
const connection = { host: '127.0.0.1', port: 6379 };
const name = `shelfsync-bench-${process.pid}`;
const queue = new Queue(name, { connection });
const opts = { removeOnComplete: true, removeOnFail: true };

const pct = (sorted, p) => sorted[Math.round((p / 100) * (sorted.length - 1))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Throughput.
let t = performance.now();
for (let i = 0; i < jobs; i += 1000) {
  const n = Math.min(1000, jobs - i);
  await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'noop', data: { tag: String(i + k) }, opts })));
}
const enqueueSecs = (performance.now() - t) / 1000;
let done = 0;
const finished = new Promise((resolve) => {
  const worker = new Worker(name, async () => {}, { connection, concurrency });
  worker.on('completed', () => { if (++done === jobs) resolve(worker); });
});
t = performance.now();
const worker = await finished;
const secs = (performance.now() - t) / 1000;
await worker.close();
console.log(`BullMQ, concurrency ${concurrency}`);
console.log(`enqueue: ${jobs} jobs in ${enqueueSecs.toFixed(2)} s (${(jobs / enqueueSecs).toFixed(0)} jobs/s, bulks of 1,000)`);
console.log(`process: ${jobs} no-op jobs in ${secs.toFixed(2)} s = ${(jobs / secs).toFixed(0)} jobs/s`);

// Enqueue-to-start latency.
const sent = new Map();
const lat = [];
let seen = 0;
const latencyWorker = new Worker(name, async (job) => {
  lat.push(performance.now() - sent.get(job.data.tag));
  seen++;
}, { connection, concurrency });
await latencyWorker.waitUntilReady();
await sleep(500);
for (let i = 0; i < samples; i++) {
  sent.set(`s${i}`, performance.now());
  await queue.add('noop', { tag: `s${i}` }, opts);
  await sleep(20);
}
while (seen < samples) await sleep(5);
await latencyWorker.close();
lat.sort((a, b) => a - b);
console.log(`enqueue-to-start ms (${samples} samples): p50 ${pct(lat, 50).toFixed(2)}  p99 ${pct(lat, 99).toFixed(2)}  max ${lat[lat.length - 1].toFixed(2)}`);
await queue.obliterate({ force: true });
await queue.close();
