// Benchmark: indexing 10,000 generated files into the catalog, side by side with DCMTK's dcmftest
// over the same files, and the peak memory of indexing one 1 GB multi-frame instance.
//   npm run bench:import -- [--files 10000] [--runs 3] [--gib 1]
import { execFile, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { generateStudy } from '@relaypacs/testkit';
import { openCatalogDatabase } from '../desktop/src/core/catalog/catalog-database.js';
import { folderSource } from '../desktop/src/core/import/folder-source.js';
import { ImportService } from '../desktop/src/core/import/import-service.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { files: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' }, gib: { type: 'string', default: '1' }, 'results-file': { type: 'string', default: 'import-indexing.json' }, 'child-index': { type: 'string' } } });

// Child mode: index one folder and report this process's peak RSS.
if (values['child-index']) {
  const [folder, catalog] = values['child-index'].split(',') as [string, string];
  const db = openCatalogDatabase(catalog);
  const result = await new ImportService({ db }).run(folder, folderSource(folder));
  db.close();
  process.stdout.write(JSON.stringify({ counts: result.counts, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-bench-import-'));
try {
  const fileCount = Number(values.files);
  const corpus = join(workDir, 'corpus');
  console.error(`generating ${fileCount} files...`);
  const perStudy = 500;
  for (let s = 0; s * perStudy < fileCount; s++) {
    await generateStudy(join(corpus, `study${s}`), { instances: Math.min(perStudy, fileCount - s * perStudy), series: 5, rows: 64, columns: 64 });
  }
  const files: string[] = [];
  for (const study of await readdir(corpus)) for (const series of await readdir(join(corpus, study))) for (const f of await readdir(join(corpus, study, series))) files.push(join(corpus, study, series, f));

  const dcmftestSeconds: number[] = [];
  const relaypacsSeconds: number[] = [];
  const readMagicSeconds: number[] = [];
  const readAllSeconds: number[] = [];
  for (let r = 0; r < Number(values.runs); r++) {
    // dcmftest reads 132 bytes per file and checks for "DICM": the floor for any indexer.
    let started = performance.now();
    for (let i = 0; i < files.length; i += 2000) await run('dcmftest', files.slice(i, i + 2000), { maxBuffer: 64 * 1024 * 1024 });
    dcmftestSeconds.push((performance.now() - started) / 1000);
    // Two floors in Node, with the indexer's concurrency: what dcmftest does (132 bytes a file), and
    // reading every byte, which any indexer that hashes whole files cannot go below.
    readMagicSeconds.push(await timeReads(files, 132));
    readAllSeconds.push(await timeReads(files, Infinity));
    // RelayPACS: full header parse, SHA-256 of every byte, catalog rows in SQLite (WAL, synchronous=FULL).
    const db = openCatalogDatabase(join(workDir, `catalog-${r}.db`));
    started = performance.now();
    const result = await new ImportService({ db }).run(corpus, folderSource(corpus));
    relaypacsSeconds.push((performance.now() - started) / 1000);
    db.close();
    if (result.counts.imported !== fileCount) throw new Error(`imported ${result.counts.imported} of ${fileCount}`);
  }

  console.error(`generating a ${values.gib} GiB multi-frame instance...`);
  const bigDir = join(workDir, 'big');
  const frames = Math.ceil((Number(values.gib) * 1024 ** 3) / (1024 * 1024 * 2));
  await generateStudy(bigDir, { instances: 1, rows: 1024, columns: 1024, frames });
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child-index', `${bigDir},${join(workDir, 'big.db')}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  await new Promise((resolve) => child.once('exit', resolve));
  const big = JSON.parse(output) as { counts: { imported: number }; maxRssBytes: number };

  const result = {
    date: new Date().toISOString(),
    files: fileCount,
    runs: Number(values.runs),
    dcmftestMedianSeconds: Number(median(dcmftestSeconds).toFixed(3)),
    relaypacsMedianSeconds: Number(median(relaypacsSeconds).toFixed(3)),
    relaypacsFilesPerSecond: Math.round(fileCount / median(relaypacsSeconds)),
    dcmftestFilesPerSecond: Math.round(fileCount / median(dcmftestSeconds)),
    ratioRelaypacsToDcmftest: Number((median(relaypacsSeconds) / median(dcmftestSeconds)).toFixed(2)),
    nodeRead132BytesMedianSeconds: Number(median(readMagicSeconds).toFixed(3)),
    nodeReadAllBytesMedianSeconds: Number(median(readAllSeconds).toFixed(3)),
    ratioReadAllToDcmftest: Number((median(readAllSeconds) / median(dcmftestSeconds)).toFixed(2)),
    largeInstanceGiB: Number(values.gib),
    largeInstanceImported: big.counts.imported,
    largeInstancePeakRssMiB: Number((big.maxRssBytes / 1024 ** 2).toFixed(1)),
  };
  console.log(JSON.stringify(result, null, 2));
  const resultsDir = join(import.meta.dirname, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, values['results-file']), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await rm(workDir, { recursive: true, force: true });
}

/** Seconds to open, read up to `limit` bytes of, and close every file, 32 at a time. */
async function timeReads(paths: string[], limit: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const handle = await open(paths[next++]!, 'r');
      try {
        const size = limit === Infinity ? (await handle.stat()).size : limit;
        await handle.read(Buffer.allocUnsafe(size), 0, size, 0);
      } finally {
        await handle.close();
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return (performance.now() - started) / 1000;
}
