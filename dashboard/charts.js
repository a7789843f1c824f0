// Stacked bar charts in plain SVG: no library, no inline style (the page's CSP allows none); colours come from
// the stylesheet's series classes.

const SVG = "http://www.w3.org/2000/svg";

const svg = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};

const WIDTH = 720;
const HEIGHT = 180;
const LEFT = 40;
const BOTTOM = 22;

/**
 * A stacked bar chart of `buckets` ({label, start, values: {series key: n}}) over `series` ({key, label}), with a
 * legend giving each series' total. The figure carries `data-total`, and each legend entry `data-series` and
 * `data-total`, so what it shows can be read back exactly.
 */
export function stackedBars({ id, title, buckets, series, empty }) {
  const totals = Object.fromEntries(
    series.map((s) => [s.key, buckets.reduce((sum, b) => sum + (b.values[s.key] ?? 0), 0)]),
  );
  const total = Object.values(totals).reduce((a, b) => a + b, 0);
  const highest = Math.max(
    1,
    ...buckets.map((b) => series.reduce((sum, s) => sum + (b.values[s.key] ?? 0), 0)),
  );
  const scale = niceCeiling(highest);
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - BOTTOM - 8;
  const slot = plotWidth / Math.max(1, buckets.length);
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": `${title}: ${total} in all`,
    class: "chart",
  });
  chart.append(svg("title", {}, `${title}: ${total} in all`));
  for (const fraction of [0, 0.5, 1]) {
    const y = 8 + plotHeight * (1 - fraction);
    chart.append(svg("line", { x1: LEFT, x2: WIDTH - 4, y1: y, y2: y, class: "grid" }));
    chart.append(
      svg("text", { x: LEFT - 6, y: y + 4, class: "axis", "text-anchor": "end" }, fraction * scale),
    );
  }
  const labelEvery = Math.ceil(buckets.length / 8);
  buckets.forEach((bucket, i) => {
    let base = 0;
    series.forEach((s, n) => {
      const value = bucket.values[s.key] ?? 0;
      if (value === 0) return;
      const height = (value / scale) * plotHeight;
      const bar = svg("rect", {
        x: LEFT + i * slot + 1,
        y: 8 + plotHeight - base - height,
        width: Math.max(1, slot - 2),
        height,
        class: `series s${n % 8}`,
      });
      bar.append(svg("title", {}, `${bucket.label}: ${s.label} ${value}`));
      chart.append(bar);
      base += height;
    });
    if (i % labelEvery === 0) {
      chart.append(
        svg(
          "text",
          { x: LEFT + i * slot + slot / 2, y: HEIGHT - 6, class: "axis", "text-anchor": "middle" },
          bucket.tick,
        ),
      );
    }
  });
  const legend = document.createElement("ul");
  legend.className = "legend";
  series.forEach((s, n) => {
    const item = document.createElement("li");
    item.dataset.series = s.key;
    item.dataset.total = String(totals[s.key]);
    const swatch = svg("svg", { viewBox: "0 0 10 10", class: "swatch", "aria-hidden": "true" });
    swatch.append(svg("rect", { width: 10, height: 10, class: `series s${n % 8}` }));
    item.append(swatch, ` ${s.label}: ${totals[s.key]}`);
    legend.append(item);
  });
  const figure = document.createElement("figure");
  figure.id = id;
  figure.className = "card";
  figure.dataset.total = String(total);
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.append(caption);
  if (series.length === 0) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = empty;
    figure.append(none);
  } else {
    figure.append(chart, legend);
  }
  return figure;
}

/** 1, 2, 5 × 10^n at or above `value`: round axis labels. */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
