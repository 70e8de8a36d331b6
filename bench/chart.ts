/**
 * A small SVG chart of the throughput suite, drawn by the bench itself (no
 * dependency): for each payload, events/s and server CPU per event of every
 * contender, as horizontal bars on a common scale per panel.
 */

export interface Bar {
  label: string;
  /** Events per second. */
  eps: number;
  /** Server CPU µs per event. */
  cpu: number;
}

export interface BarGroup {
  title: string;
  bars: Bar[];
}

const WIDTH = 860;
const LABEL_W = 250;
const PANEL_W = 270;
const GAP = 30;
const BAR_H = 16;
const ROW_H = 20;
const HEAD = 46;
const COLORS: Record<string, string> = { ours: '#1f77b4', limit: '#7f7f7f', web: '#6baed6' };

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function colorOf(label: string): string {
  if (label.startsWith('ours, web')) return COLORS.web;
  if (label.startsWith('ours')) return COLORS.ours;
  if (label.startsWith('limit')) return COLORS.limit;
  return '#c7c7c7';
}

function fmtEps(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(0)}k` : v.toFixed(0);
}

/** The SVG text: one block per group, two panels (events/s, longer is better; CPU µs/event, shorter is better). */
export function throughputSvg(groups: readonly BarGroup[], subtitle: string): string {
  const out: string[] = [];
  let y = HEAD;
  const blocks: string[] = [];
  for (const g of groups) {
    const maxEps = Math.max(...g.bars.map((b) => b.eps));
    const maxCpu = Math.max(...g.bars.map((b) => b.cpu));
    blocks.push(`<text x="0" y="${y + 12}" font-weight="bold">${esc(g.title)}</text>`);
    y += 20;
    for (const b of g.bars) {
      const color = colorOf(b.label);
      const w1 = Math.max(1, (b.eps / maxEps) * (PANEL_W - 60));
      const w2 = Math.max(1, (b.cpu / maxCpu) * (PANEL_W - 60));
      const x1 = LABEL_W;
      const x2 = LABEL_W + PANEL_W + GAP;
      blocks.push(
        `<text x="${LABEL_W - 6}" y="${y + 12}" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${x1}" y="${y}" width="${w1.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`,
        `<text x="${(x1 + w1 + 4).toFixed(1)}" y="${y + 12}">${fmtEps(b.eps)}</text>`,
        `<rect x="${x2}" y="${y}" width="${w2.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`,
        `<text x="${(x2 + w2 + 4).toFixed(1)}" y="${y + 12}">${b.cpu.toFixed(2)}</text>`,
      );
      y += ROW_H;
    }
    y += 12;
  }
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="0" y="16" font-size="14" font-weight="bold">Throughput over one connection, backpressure honoured</text>`,
    `<text x="0" y="32" fill="#555">${esc(subtitle)}</text>`,
    `<text x="${LABEL_W}" y="${HEAD - 2}" fill="#555">events/s (longer is better)</text>`,
    `<text x="${LABEL_W + PANEL_W + GAP}" y="${HEAD - 2}" fill="#555">server CPU µs per event (shorter is better)</text>`,
    ...blocks,
    '</svg>',
    '',
  );
  return out.join('\n');
}
