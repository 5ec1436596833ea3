#!/usr/bin/env node
// `npm run gen -- --out DIR --instances N --size 512x512 ...`: writes a synthetic DICOM study for
// benchmarks, manual tries and tests. Prints a JSON summary on stdout.
import { writeFile } from 'node:fs/promises';
import { GEN_USAGE, UsageError, parseGenArgs } from './gen-args.js';
import { ProgressBar } from './progress-bar.js';
import { generateStudy } from './study-generator.js';

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseGenArgs>;
  try {
    parsed = parseGenArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gen: ${(error as Error).message}\n\n${GEN_USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (parsed === 'help') {
    process.stdout.write(`${GEN_USAGE}\n`);
    return 0;
  }
  const bar = new ProgressBar('generating');
  const started = Date.now();
  const study = await generateStudy(parsed.out, parsed.spec, (done, total) => {
    bar.update(done, total, 'instances');
  });
  const summary = {
    out: parsed.out,
    studyInstanceUid: study.studyInstanceUid,
    instances: study.instances.length,
    series: study.series.length,
    totalBytes: study.totalBytes,
    seconds: (Date.now() - started) / 1000,
  };
  if (parsed.manifest) await writeFile(parsed.manifest, JSON.stringify(study, null, 2));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`gen: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
});
