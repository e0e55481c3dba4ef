/**
 * The CloudWatch dashboard of the stack, drawn as the console lays it out (a 24-column grid):
 * each widget's place, title, view and what it plots, from the template `serverless package`
 * builds. `npm run dashboard-svg` writes docs/dashboard.svg; a test holds the file to the
 * template (test/infra/serverless-template.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageTemplate } from './package-template';

type Metric = (string | Record<string, unknown>)[];
interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: {
    title?: string;
    view?: string;
    stacked?: boolean;
    metrics?: Metric[];
    period?: number;
    stat?: string;
  };
}

const COLUMN = 40; // px per grid column (24 columns)
const ROW = 34; // px per grid row
const PAD = 6;

const xmlText = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * What one widget plots, a line per metric. CloudWatch's shorthand is expanded: `.` repeats the
 * previous metric's value at that place, `...` all of its values but the ones that follow.
 */
const plotted = (metrics: Metric[] = []): string[] => {
  let previous: string[] = [];
  return metrics.map((m) => {
    const expression = m.find((part) => typeof part === 'object' && 'expression' in part) as
      | { expression: string }
      | undefined;
    if (expression) {
      const name = /MetricName=\\?"([^"\\]+)/.exec(expression.expression)?.[1];
      return name ? `each ${name}* metric (search)` : expression.expression.slice(0, 60);
    }
    const given = m.filter((part): part is string => typeof part === 'string');
    const words =
      given[0] === '...'
        ? [...previous.slice(0, previous.length - (given.length - 1)), ...given.slice(1)]
        : given.map((word, i) => (word === '.' ? (previous[i] ?? word) : word));
    previous = words;
    const [namespace, name, ...dimensions] = words;
    const values = dimensions.filter((_, i) => i % 2 === 1).join(', ');
    const metric = `${name ?? '…'}${namespace ? ` (${namespace.replace(/^AWS\//, '')})` : ''}`;
    return values ? `${values}: ${metric}` : metric;
  });
};

/** The dashboard body of a packaged template (its `Fn::Sub` with the stage's names). */
export const dashboardOf = (template: {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}) => {
  const dashboard = Object.values(template.Resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  if (!dashboard) throw new Error('the template has no CloudWatch dashboard');
  const body = dashboard.Properties!.DashboardBody as string | { 'Fn::Sub': string };
  const text = typeof body === 'string' ? body : body['Fn::Sub'];
  // Pseudo parameters and references as the console would show them.
  const resolved = text
    .replace(/\$\{AWS::Region\}/g, 'REGION')
    .replace(/\$\{(\w+)\.\w+\}/g, '$1')
    .replace(/\$\{([^}]+)\}/g, '$1');
  return {
    name: String(dashboard.Properties!.DashboardName),
    widgets: (JSON.parse(resolved) as { widgets: Widget[] }).widgets,
  };
};

export const dashboardSvg = (dashboard: { name: string; widgets: Widget[] }): string => {
  const rows = Math.max(...dashboard.widgets.map((w) => w.y + w.height));
  const width = 24 * COLUMN;
  const height = rows * ROW + 40;
  const parts = dashboard.widgets.map((w) => {
    const x = w.x * COLUMN + PAD;
    const y = w.y * ROW + 40 + PAD;
    const wpx = w.width * COLUMN - 2 * PAD;
    const hpx = w.height * ROW - 2 * PAD;
    const lines = plotted(w.properties.metrics);
    const shown = lines.slice(0, Math.floor((hpx - 44) / 15));
    const more = lines.length - shown.length;
    const view = `${w.properties.view ?? w.type}${w.properties.stacked ? ', stacked' : ''}${w.properties.stat ? `, ${w.properties.stat}` : ''}${w.properties.period ? ` per ${w.properties.period >= 3600 ? `${w.properties.period / 3600} h` : `${w.properties.period / 60} min`}` : ''}`;
    const clipTo = (t: string, pxPerChar: number) => {
      const max = Math.floor((wpx - 20) / pxPerChar);
      return t.length > max ? `${t.slice(0, max - 1)}…` : t;
    };
    const clip = (t: string) => clipTo(t, 6.7);
    return [
      `<rect x="${x}" y="${y}" width="${wpx}" height="${hpx}" rx="4" fill="#ffffff" stroke="#b6bec9"/>`,
      `<text x="${x + 10}" y="${y + 20}" font-size="13" font-weight="bold" fill="#16191f">${xmlText(clipTo(w.properties.title ?? w.type, 8.2))}</text>`,
      `<text x="${x + 10}" y="${y + 36}" font-size="11" fill="#5f6b7a">${xmlText(clip(view))}</text>`,
      ...shown.map(
        (line, i) =>
          `<text x="${x + 16}" y="${y + 56 + i * 15}" font-size="11" fill="#0972d3">${xmlText(clip(`• ${line}`))}</text>`,
      ),
      ...(more > 0
        ? [
            `<text x="${x + 16}" y="${y + 56 + shown.length * 15}" font-size="11" fill="#5f6b7a">and ${more} more</text>`,
          ]
        : []),
    ].join('\n');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<title>The CloudWatch dashboard ${xmlText(dashboard.name)}: ${dashboard.widgets.map((w) => xmlText(w.properties.title ?? w.type)).join('; ')}</title>`,
    `<rect width="${width}" height="${height}" fill="#f2f3f3"/>`,
    `<text x="${PAD}" y="26" font-size="16" font-weight="bold" fill="#16191f">CloudWatch dashboard ${xmlText(dashboard.name)} (layout and contents; generated from the template)</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
};

if (require.main === module) {
  const root = join(__dirname, '..');
  writeFileSync(join(root, 'docs/dashboard.svg'), dashboardSvg(dashboardOf(packageTemplate(root, 'STAGE'))));
  process.stdout.write('wrote docs/dashboard.svg\n');
}
