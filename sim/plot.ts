import type { ScenarioResult } from "./engine.ts";

/**
 * A scenario's hourly backlog (due items the sweeper has not reached) and share of credentials requests answered
 * 429, over simulated time: an SVG with two stacked panels, no library.
 */
export function plotSvg(result: ScenarioResult): string {
  const width = 720;
  const panel = 150;
  const left = 60;
  const top = 30;
  const inner = width - left - 20;
  const hours = Math.max(1, ...result.series.map((p) => p.hour));
  const x = (hour: number) => left + (hour / hours) * inner;
  const path = (values: number[], max: number, y0: number) =>
    values
      .map((v, i) => {
        const hour = result.series[i]?.hour ?? 0;
        const y = y0 + panel - (max > 0 ? (v / max) * panel : 0);
        return `${i === 0 ? "M" : "L"}${x(hour).toFixed(1)},${y.toFixed(1)}`;
      })
      .join(" ");
  const backlog = result.series.map((p) => p.backlog);
  const rate = result.series.map((p) => p.rate429 * 100);
  const maxBacklog = Math.max(1, ...backlog);
  const maxRate = Math.max(1, ...rate);
  const axis = (y0: number, label: string, max: string) =>
    `<line x1="${left}" y1="${y0 + panel}" x2="${left + inner}" y2="${y0 + panel}" stroke="#999"/>` +
    `<line x1="${left}" y1="${y0}" x2="${left}" y2="${y0 + panel}" stroke="#999"/>` +
    `<text x="${left - 6}" y="${y0 + 10}" text-anchor="end" font-size="11">${max}</text>` +
    `<text x="${left - 6}" y="${y0 + panel}" text-anchor="end" font-size="11">0</text>` +
    `<text x="${left + 6}" y="${y0 - 6}" font-size="12">${label}</text>`;
  const second = top + panel + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${second + panel + 40}" font-family="sans-serif">`,
    `<text x="${left}" y="18" font-size="14">${result.name}: ${result.devices.toLocaleString("en-US")} devices at ${result.scale}, ${result.simulatedDays} days</text>`,
    axis(top, "sweep backlog (due items, at this scale)", String(maxBacklog)),
    `<path d="${path(backlog, maxBacklog, top)}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`,
    axis(second, "credentials requests answered 429 (% per hour)", `${maxRate.toFixed(1)} %`),
    `<path d="${path(rate, maxRate, second)}" fill="none" stroke="#d62728" stroke-width="1.5"/>`,
    `<text x="${left + inner}" y="${second + panel + 28}" text-anchor="end" font-size="11">hours: ${hours.toFixed(0)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
