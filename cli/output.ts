import type { DeviceEventsResponse, DeviceStatusResponse } from "../functions/contracts/pairing.ts";
import type { RealmResponse } from "../functions/contracts/realms.ts";
import type { CaMode, compareCaModes } from "./cost.ts";

/** How the CLI words what it prints for people; `--json` prints the data itself, in snake_case. */

type DeviceStatus = DeviceStatusResponse["data"];

const presence = (d: DeviceStatus) =>
  d.connected
    ? `connected since ${d.last_connection ?? "?"}`
    : d.last_disconnection
      ? `offline since ${d.last_disconnection}`
      : "never connected";

export function realmLine(r: RealmResponse["data"]): string {
  return (
    `${r.realm_name}: broker ${r.broker_url}, validity ${r.certificate_validity_seconds}s, grace ${r.grace_seconds}s, ` +
    `${r.issuance_budget_per_hour} issuances per device and hour, at most ${r.max_live_certificates} live, ` +
    `${r.device_count} devices${r.device_limit ? ` of at most ${r.device_limit}` : ""}` +
    `${r.indexed_metadata_keys.length > 0 ? `, metadata indexed: ${r.indexed_metadata_keys.join(", ")}` : ""}`
  );
}

/** `tether device show`: status, presence, metadata, certificate and timeline. */
export function deviceReport(s: DeviceStatus, events: DeviceEventsResponse["data"]): string {
  const metadata = Object.entries(s.metadata);
  return [
    `device ${s.id}`,
    `  credentials inhibited  ${s.credentials_inhibited}`,
    `  presence               ${presence(s)}`,
    `  last seen from         ${s.last_seen_ip ?? "-"}`,
    `  first registration     ${s.first_registration ?? "-"}`,
    `  first credentials      ${s.first_credentials_request ?? "-"}`,
    `  last request from      ${s.last_credentials_request_ip ?? "-"}`,
    `  certificate            ${s.certificate ? `${s.certificate.serial} (${s.certificate.state}, until ${s.certificate.not_after})` : "-"}`,
    `  metadata               ${metadata.length === 0 ? "-" : metadata.map(([k, v]) => `${k}=${String(v)}`).join(", ")}`,
    "  timeline",
    ...events.map(
      (e) => `    ${e.at}  ${e.type}${e.serial ? ` ${e.serial}` : ""}${e.reason ? ` (${e.reason})` : ""}`,
    ),
  ].join("\n");
}

type DeviceEvent = DeviceEventsResponse["data"][number];

/** What `tether device watch` saw at one poll. */
export interface WatchedState {
  readonly status: DeviceStatus;
  readonly events: readonly DeviceEvent[];
}

/** A change `tether device watch` reports: when it saw it, what kind, and the line it prints. */
export interface WatchChange {
  readonly at: string;
  readonly kind: "presence" | "credentials" | "certificate" | "metadata" | "event";
  readonly text: string;
}

const eventKey = (e: DeviceEvent) => `${e.at}|${e.type}|${e.serial ?? ""}`;

/**
 * What changed between two polls of a device: presence, inhibition, its current certificate, its metadata, and
 * timeline events not seen before (oldest first). The first poll (no `before`) reports the state as it is.
 */
export function watchChanges(
  before: WatchedState | undefined,
  after: WatchedState,
  seenAt: string,
): WatchChange[] {
  const s = after.status;
  const change = (kind: WatchChange["kind"], text: string): WatchChange => ({ at: seenAt, kind, text });
  if (!before) {
    return [
      change("presence", presence(s)),
      change("credentials", s.credentials_inhibited ? "credentials inhibited" : "credentials enabled"),
      change(
        "certificate",
        s.certificate
          ? `certificate ${s.certificate.serial} ${s.certificate.state} until ${s.certificate.not_after}`
          : "no certificate",
      ),
    ];
  }
  const b = before.status;
  const changes: WatchChange[] = [];
  if (b.connected !== s.connected || b.last_connection !== s.last_connection)
    changes.push(change("presence", presence(s)));
  if (b.credentials_inhibited !== s.credentials_inhibited) {
    changes.push(
      change("credentials", s.credentials_inhibited ? "credentials inhibited" : "credentials enabled"),
    );
  }
  if (b.certificate?.serial !== s.certificate?.serial || b.certificate?.state !== s.certificate?.state) {
    changes.push(
      change(
        "certificate",
        s.certificate
          ? `certificate ${s.certificate.serial} ${s.certificate.state} until ${s.certificate.not_after}`
          : "no certificate",
      ),
    );
  }
  if (JSON.stringify(b.metadata) !== JSON.stringify(s.metadata)) {
    changes.push(
      change(
        "metadata",
        `metadata ${
          Object.entries(s.metadata)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(", ") || "-"
        }`,
      ),
    );
  }
  const seen = new Set(before.events.map(eventKey));
  for (const e of [...after.events].reverse()) {
    if (seen.has(eventKey(e))) continue;
    changes.push({
      at: e.at,
      kind: "event",
      text: `${e.type}${e.serial ? ` ${e.serial}` : ""}${e.reason ? ` (${e.reason})` : ""}`,
    });
  }
  return changes;
}

/** `tether device list`: one line a device, in columns. */
export function deviceTable(devices: readonly DeviceStatus[]): string {
  const rows = devices.map((d) => [
    d.id,
    d.credentials_inhibited ? "inhibited" : "enabled",
    d.connected ? "connected" : "offline",
    d.connected ? (d.last_connection ?? "-") : (d.last_disconnection ?? "-"),
    d.certificate?.not_after ?? "no certificate",
    Object.entries(d.metadata)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(","),
  ]);
  const header = ["DEVICE", "CREDENTIALS", "PRESENCE", "SINCE", "CERTIFICATE UNTIL", "METADATA"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const usd = (n: number) =>
  `$${n.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })}`;

type Compared = ReturnType<typeof compareCaModes>;

const TIERS_NOTE =
  "General-purpose certificate tiers count every certificate issued in the calendar month in this account and Region, across all its CAs.";

/** `tether cost`: one mode itemized, the other's total, which is cheaper and from how many devices. */
export function costReport(
  devices: number,
  validitySeconds: number,
  caMode: CaMode,
  compared: Compared,
): string {
  const shown = caMode === "short-lived" ? compared.shortLived : compared.generalPurpose;
  const other = caMode === "short-lived" ? compared.generalPurpose : compared.shortLived;
  return [
    `${devices} devices, ${validitySeconds / 86_400} d certificates (~${shown.certificatesPerDevice.toFixed(1)} per device per month), ${caMode} CA:`,
    ...shown.lines.map((l) => `  ${l.item.padEnd(42)} ${usd(l.monthlyUsd).padStart(14)}`),
    `  ${"total per month".padEnd(42)} ${usd(shown.totalUsd).padStart(14)}`,
    `  ${`total with a ${other.caMode} CA instead`.padEnd(42)} ${usd(other.totalUsd).padStart(14)}`,
    `Cheaper here: ${compared.cheaper} mode. General-purpose mode costs less from ${compared.crossoverDevices.toLocaleString("en-US")} devices at this validity.`,
    TIERS_NOTE,
  ].join("\n");
}

/** The cost estimate as `--json` prints it: snake_case, like every other JSON the CLI and the API print. */
export function costJson(caMode: CaMode, compared: Compared) {
  const mode = (e: Compared["shortLived"]) => ({
    lines: e.lines.map((l) => ({ item: l.item, monthly_usd: l.monthlyUsd })),
    total_usd: e.totalUsd,
  });
  const shown = caMode === "short-lived" ? compared.shortLived : compared.generalPurpose;
  return {
    certificates_per_device: shown.certificatesPerDevice,
    ca_mode: caMode,
    total_usd: shown.totalUsd,
    modes: { short_lived: mode(compared.shortLived), general_purpose: mode(compared.generalPurpose) },
    cheaper: compared.cheaper,
    crossover_devices: compared.crossoverDevices,
    note: TIERS_NOTE,
  };
}

/** What `register-bulk --json` prints. */
export function bulkJson(
  summary: { created: number; skipped: number; failed: number; failures: { hwId: string; error: string }[] },
  secretsFile: string,
) {
  return {
    created: summary.created,
    skipped: summary.skipped,
    failed: summary.failed,
    failures: summary.failures.map((f) => ({ hw_id: f.hwId, error: f.error })),
    secrets_file: secretsFile,
  };
}

/** A progress bar on stderr, redrawn in place (only on a terminal, never with `--json`). */
export function progressBar(finished: number, total: number): string {
  const width = 30;
  const filled = Math.round((finished / total) * width);
  return `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${finished}/${total}`;
}
