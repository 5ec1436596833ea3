// Draws docs/reliability.svg from faults/results/*.json (the full run, or the short one with --short).
//   npx tsx faults/report.ts [--short]
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { barChartSvg } from '../bench/svg-chart.js';

const suffix = process.argv.includes('--short') ? '-short' : '';
const read = async <T>(name: string): Promise<T | undefined> => JSON.parse(await readFile(join(import.meta.dirname, 'results', `${name}${suffix}.json`), 'utf8').catch(() => 'null')) as T | undefined;
const network = await read<{ date: string; outcomes: { scenario: string; seconds: number; studyBytes: number; relayAckedBytes: number; wireBytesSent: number }[] }>('network-faults');
if (!network) throw new Error(`no faults/results/network-faults${suffix}.json: run npm run test:faults first`);
const svg = barChartSvg({
  title: `Fault suite: time to deliver, and bytes on the wire per study byte (${network.date.slice(0, 10)})`,
  unit: '',
  series: ['seconds until delivered', 'wire bytes sent ÷ study bytes (×10)'],
  groups: network.outcomes.map((o) => ({ label: `${o.scenario} (${(o.studyBytes / 1e6).toFixed(1)} MB)`, values: [o.seconds, (o.wireBytesSent / o.studyBytes) * 10] })),
});
await writeFile(join(import.meta.dirname, '../docs/reliability.svg'), svg);
for (const o of network.outcomes) {
  console.log(`| ${o.scenario} | ${(o.studyBytes / 1e6).toFixed(1)} MB | ${o.seconds} s | ${(o.relayAckedBytes / o.studyBytes).toFixed(2)} × | ${(o.wireBytesSent / o.studyBytes).toFixed(2)} × |`);
}
