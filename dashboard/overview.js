// The dashboard's home: the fleet at a glance (GET /appengine/v1/{realm}/overview): counts by status and
// presence, certificates expiring within a day or lapsed, and charts of the last 24 hours or 7 days.
import { stackedBars } from "./charts.js";
import { api, config, h, liveLine, poll, view, when } from "./ui.js";

const HOUR_MS = 3_600_000;
const WINDOWS = {
  "24h": { label: "last 24 hours", hours: 24, bucketHours: 1 },
  "7d": { label: "last 7 days", hours: 168, bucketHours: 6 },
};

/** `activity.hours` summed into `bucketHours`-long buckets ending with the hour `to`. */
function buckets(activity, { hours, bucketHours }) {
  const end = Date.parse(activity.to);
  const byHour = new Map(activity.hours.map((h) => [Date.parse(h.hour), h.counts]));
  const out = [];
  for (let start = end - (hours - 1) * HOUR_MS; start <= end; start += bucketHours * HOUR_MS) {
    const values = {};
    for (let t = start; t < start + bucketHours * HOUR_MS && t <= end; t += HOUR_MS) {
      for (const [name, n] of Object.entries(byHour.get(t) ?? {})) values[name] = (values[name] ?? 0) + n;
    }
    const date = new Date(start);
    out.push({
      start,
      values,
      label: when(date.toISOString()),
      tick:
        bucketHours === 1
          ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
          : date.toLocaleDateString(undefined, { weekday: "short", hour: "2-digit" }),
    });
  }
  return out;
}

/** The series a chart shows: `prefix`ed counters found in the window (or `fixed` ones, always shown). */
function seriesOf(bucketList, prefix, fixed = []) {
  const found = new Set(fixed);
  for (const b of bucketList)
    for (const name of Object.keys(b.values)) if (name.startsWith(prefix)) found.add(name);
  return [...found].map((key) => ({
    key,
    label: key.slice(prefix.length).toLowerCase().replaceAll("_", " "),
  }));
}

const dayAfter = (iso) => new Date(Date.parse(iso) + 24 * HOUR_MS).toISOString();

const count = (id, label, value, href) =>
  h(
    "a",
    { class: "stat card", id, href, "data-count": String(value) },
    h("span", { class: "value" }, value.toLocaleString()),
    h("span", { class: "label" }, label),
  );

function render(data, windowKey) {
  const d = data.devices;
  const win = WINDOWS[windowKey];
  const bucketList = buckets(data.activity, win);
  const countedAt = new Date(data.counted_at);
  const nextCount = new Date(countedAt.getTime() + data.counted_every_seconds * 1000);
  const list = (query) => `#/devices${query ? `?${query}` : ""}`;
  return [
    h("h2", {}, "Fleet overview"),
    h(
      "section",
      { class: "stats", id: "fleet-counts", "aria-label": "devices" },
      count("count-total", "devices", data.total_devices, list("")),
      count("count-connected", "connected", data.connected_devices, list("connected=true&sort=last_seen")),
      count("count-pending", "pending", d.pending.connected + d.pending.disconnected, list("status=pending")),
      count(
        "count-confirmed",
        "confirmed",
        d.confirmed.connected + d.confirmed.disconnected,
        list("status=confirmed"),
      ),
      count(
        "count-inhibited",
        "inhibited",
        d.inhibited.connected + d.inhibited.disconnected,
        list("status=inhibited"),
      ),
      count(
        "count-expiring",
        "certificates expiring within 24 h",
        data.certificates.expiring_within_24h,
        list(`status=confirmed&expiring_before=${encodeURIComponent(dayAfter(data.counted_at))}`),
      ),
      count(
        "count-lapsed",
        "certificates lapsed (not renewed)",
        data.certificates.lapsed,
        list(`status=confirmed&expiring_before=${encodeURIComponent(data.counted_at)}`),
      ),
    ),
    h(
      "p",
      { class: "muted", id: "counted-at" },
      `Device counts as of ${when(data.counted_at)}; counted again at most every ${Math.round(
        data.counted_every_seconds / 60,
      )} minutes (next after ${nextCount.toLocaleTimeString(undefined, { timeZoneName: "short" })}). Charts count as things happen.`,
    ),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { id: "presence-table" },
        h("caption", {}, "Devices by status and presence"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col" }, "Connected"),
            h("th", { scope: "col" }, "Disconnected"),
          ),
        ),
        h(
          "tbody",
          {},
          ["pending", "confirmed", "inhibited"].map((status) =>
            h(
              "tr",
              { "data-status": status },
              h("th", { scope: "row" }, status),
              h("td", { "data-presence": "connected" }, String(d[status].connected)),
              h("td", { "data-presence": "disconnected" }, String(d[status].disconnected)),
            ),
          ),
        ),
      ),
    ),
    h(
      "nav",
      { class: "row", id: "window", "aria-label": "chart window" },
      Object.entries(WINDOWS).map(([key, w]) =>
        key === windowKey
          ? h("strong", { "aria-current": "true" }, w.label)
          : h("a", { href: `#/overview?window=${key}`, id: `window-${key}` }, w.label),
      ),
    ),
    h(
      "div",
      { class: "charts" },
      stackedBars({
        id: "chart-issuances",
        title: `Certificates issued, ${win.label}`,
        buckets: bucketList,
        series: [
          { key: "issued", label: "first pairing" },
          { key: "renewed", label: "renewal" },
        ],
      }),
      stackedBars({
        id: "chart-refusals",
        title: `Credentials requests refused, by cause, ${win.label}`,
        buckets: bucketList,
        series: seriesOf(bucketList, "refused_"),
        empty: "None refused.",
      }),
      stackedBars({
        id: "chart-sweeps",
        title: `Certificates the sweeper took out of IoT, ${win.label}`,
        buckets: bucketList,
        series: seriesOf(bucketList, "swept_", ["swept_expired", "swept_superseded", "swept_revoked"]),
      }),
    ),
    liveLine(),
  ];
}

export async function overviewView(params) {
  const windowKey = WINDOWS[params.get("window")] ? params.get("window") : "24h";
  const load = async () => (await api(config.appengineUrl, "GET", "/overview")).data;
  const first = await load();
  view.replaceChildren(...render(first, windowKey));
  let shown = JSON.stringify(first);
  // The charts move as things happen; the counts when they are counted again.
  poll(async () => {
    const data = await load();
    const text = JSON.stringify(data);
    if (text !== shown) {
      shown = text;
      view.replaceChildren(...render(data, windowKey));
    }
  }, 30_000);
}
