// A tiny horizontal bar chart in SVG, no dependencies: used by the benchmark and the fault suite to
// draw the figures they publish in docs/. One group per row label, one bar per series.

export interface ChartGroup {
  label: string;
  /** One value per series (same order as `series`); undefined leaves a gap. */
  values: (number | undefined)[];
}

export interface ChartSpec {
  title: string;
  unit: string;
  series: string[];
  groups: ChartGroup[];
}

const COLOURS = ['#2f6db5', '#e08a1e', '#4a9a4a', '#b53f3f', '#7b5ea7'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Renders `spec` as an SVG document (each group scaled to its own largest value, labelled with figures). */
export function barChartSvg(spec: ChartSpec): string {
  const width = 760;
  const labelWidth = 210;
  const barHeight = 16;
  const groupGap = 14;
  // The legend: one line per series under the title, so long names never run off the chart.
  const legendLine = 16;
  const top = 30 + spec.series.length * legendLine + 8;
  const plotWidth = width - labelWidth - 110;
  const rows: string[] = [];
  let y = top;
  for (const group of spec.groups) {
    const max = Math.max(...group.values.map((v) => v ?? 0), 1e-9);
    const groupHeight = spec.series.length * barHeight;
    rows.push(`<text x="${labelWidth - 8}" y="${y + groupHeight / 2 + 4}" text-anchor="end" font-size="12">${escape(group.label)}</text>`);
    group.values.forEach((value, i) => {
      if (value === undefined) return;
      const w = Math.max(1, (value / max) * plotWidth);
      const by = y + i * barHeight;
      rows.push(`<rect x="${labelWidth}" y="${by + 1}" width="${w.toFixed(1)}" height="${barHeight - 2}" fill="${COLOURS[i % COLOURS.length]}"/>`);
      rows.push(`<text x="${(labelWidth + w + 4).toFixed(1)}" y="${by + barHeight - 4}" font-size="11">${formatValue(value)} ${escape(spec.unit)}</text>`);
    });
    y += groupHeight + groupGap;
  }
  const legend = spec.series.map((name, i) => `<rect x="${labelWidth}" y="${26 + i * legendLine}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/><text x="${labelWidth + 16}" y="${36 + i * legendLine}" font-size="12">${escape(name)}</text>`).join('');
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="18" font-size="14" font-weight="bold">${escape(spec.title)}</text>
${legend}
${rows.join('\n')}
</svg>
`;
}

function formatValue(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
