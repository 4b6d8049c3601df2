// Baseline for BenchmarkMake: sharp (libvips) making the same three
// thumbnails (320, 640, 1280 px wide, JPEG quality 82, EXIF auto-orient)
// from the same file, the way a Node service would: one pipeline per width,
// all three in flight at once. Prints the median and p90 over N runs after
// two warm-up runs.
//
// usage: node sharp.mjs PHOTO.jpg [RUNS]
import sharp from 'sharp';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [photo, runsArg] = process.argv.slice(2);
if (!photo) {
  console.error('usage: node sharp.mjs PHOTO.jpg [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);
const widths = [320, 640, 1280];
const out = mkdtempSync(join(tmpdir(), 'sharp-bench-'));
sharp.cache(false); // every run decodes the file again, as an upload would

async function once(i) {
  await Promise.all(widths.map((w) =>
    sharp(photo).rotate().resize({ width: w }).jpeg({ quality: 82 })
      .toFile(join(out, `${i}-${w}w.jpg`))));
}

const times = [];
let cpu0;
for (let i = -2; i < runs; i++) {
  if (i === 0) cpu0 = process.cpuUsage();
  const t = process.hrtime.bigint();
  await once(i);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (i >= 0) times.push(ms);
}
rmSync(out, { recursive: true, force: true });
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`  cpu ${((cpu.user + cpu.system) / 1000 / runs).toFixed(1)} ms/run; `);
times.sort((a, b) => a - b);
const q = (p) => times[Math.floor(p * (times.length - 1))].toFixed(1);
console.log(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}, concurrency ${sharp.concurrency()}): ` +
  `p50 ${q(0.5)} ms, p90 ${q(0.9)} ms over ${runs} runs`);
