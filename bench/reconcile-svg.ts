/**
 * The picture of one reconcile run (docs/reconcile-2000.svg): OVH calls in flight over time,
 * each zone's refresh from asked to done, and the critical-path bound the run is measured
 * against. Written by the reconcile benchmark's first run.
 */
export interface ReconcileCourse {
  title: string;
  ms: number;
  boundMs: number;
  inFlight: [number, number][];
  refreshes: { zone: string; asked: number; done?: number }[];
}

const W = 960;
const PLOT_H = 220;
const ROW = 7;
const LEFT = 50;
const TOP = 40;

const xmlText = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export const reconcileSvg = (c: ReconcileCourse): string => {
  const span = Math.max(c.ms, c.boundMs) * 1.02;
  const x = (ms: number) => LEFT + (ms / span) * (W - LEFT - 20);
  const peak = Math.max(8, ...c.inFlight.map(([, n]) => n));
  const y = (n: number) => TOP + PLOT_H - (n / peak) * PLOT_H;
  const zones = [...c.refreshes].sort((a, b) => a.asked - b.asked);
  const zonesTop = TOP + PLOT_H + 40;
  const H = zonesTop + zones.length * ROW + 50;
  const line = c.inFlight.map(([t, n]) => `${x(t).toFixed(1)},${y(n).toFixed(1)}`).join(' ');
  const ticks = Array.from({ length: Math.floor(span / 1000) + 1 }, (_, s) => s).filter(
    (s) => s % Math.max(1, Math.ceil(span / 1000 / 12)) === 0,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<title>${xmlText(c.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${xmlText(c.title)}</text>`,
    // Axes and grid.
    ...ticks.map(
      (s) =>
        `<line x1="${x(s * 1000)}" y1="${TOP}" x2="${x(s * 1000)}" y2="${zonesTop + zones.length * ROW}" stroke="#eeeeee"/><text x="${x(s * 1000)}" y="${H - 28}" text-anchor="middle" fill="#555">${s} s</text>`,
    ),
    `<line x1="${LEFT}" y1="${TOP + PLOT_H}" x2="${W - 20}" y2="${TOP + PLOT_H}" stroke="#999"/>`,
    ...[0, Math.round(peak / 2), peak].map(
      (n) => `<text x="${LEFT - 6}" y="${y(n) + 4}" text-anchor="end" fill="#555">${n}</text>`,
    ),
    `<text x="12" y="${TOP + PLOT_H / 2}" transform="rotate(-90 12 ${TOP + PLOT_H / 2})" text-anchor="middle" fill="#555">OVH calls in flight</text>`,
    `<polyline points="${line}" fill="none" stroke="#0972d3" stroke-width="1.2"/>`,
    // Zone refreshes, a row each, from asked to done.
    `<text x="${LEFT}" y="${zonesTop - 8}" fill="#555">zone refreshes (${zones.length}), each from asked to done</text>`,
    ...zones.map((z, i) => {
      const end = z.done ?? c.ms;
      return `<rect x="${x(z.asked).toFixed(1)}" y="${zonesTop + i * ROW}" width="${Math.max(1, x(end) - x(z.asked)).toFixed(1)}" height="${ROW - 2}" fill="#e07700"><title>${xmlText(z.zone)}</title></rect>`;
    }),
    // The run's end and its bound.
    `<line x1="${x(c.boundMs)}" y1="${TOP}" x2="${x(c.boundMs)}" y2="${zonesTop + zones.length * ROW}" stroke="#d13212" stroke-dasharray="5,4"/>`,
    `<text x="${x(c.boundMs) - 4}" y="${TOP + 12}" text-anchor="end" fill="#d13212">critical-path bound ${(c.boundMs / 1000).toFixed(1)} s</text>`,
    `<line x1="${x(c.ms)}" y1="${TOP}" x2="${x(c.ms)}" y2="${zonesTop + zones.length * ROW}" stroke="#16191f"/>`,
    `<text x="${x(c.ms) - 4}" y="${TOP + 26}" text-anchor="end" fill="#16191f">run ${(c.ms / 1000).toFixed(1)} s</text>`,
    `<text x="${LEFT}" y="${H - 10}" fill="#555">time since the run started (discovery, plan, writes, refreshes)</text>`,
    '</svg>',
    '',
  ].join('\n');
};
