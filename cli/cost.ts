/**
 * List prices (us-east-1) the estimate uses; change them here if AWS does. Private CA: $400 a month per CA in
 * general-purpose mode and $50 in short-lived certificate mode (AWS Private CA pricing page, read 2026-12-03);
 * per certificate, general-purpose mode is tiered by the certificates issued in the calendar month in the
 * account and Region, across all its CAs, and short-lived mode is flat (tiers and rate as the scale issue
 * records them from the same page).
 */
export const PRICES = {
  ca: { "short-lived": 50, "general-purpose": 400 },
  shortLivedPerCertificate: 0.058,
  /** General-purpose certificates: [up to this many a month, at this price each]; the last tier has no end. */
  generalPurposeTiers: [
    [1_000, 0.75],
    [10_000, 0.35],
    [Number.POSITIVE_INFINITY, 0.001],
  ] as ReadonlyArray<readonly [number, number]>,
  iotConnectivityPerMillionMinutes: 0.08,
  iotMessagesPerMillion: 1,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  dynamoPerMillionWrites: 1.25,
  dynamoPerMillionReads: 0.25,
  apiPerMillionRequests: 1,
} as const;

/** Private CA's two modes; either issues Tether's short-lived certificates (7 days at most). */
export type CaMode = "short-lived" | "general-purpose";

const MINUTES_PER_MONTH = 30 * 24 * 60;

export interface CostInput {
  readonly devices: number;
  readonly validitySeconds: number;
  /** Messages each device publishes per minute (IoT messaging). */
  readonly messagesPerMinute: number;
  readonly caMode?: CaMode;
  /** Certificates a device gets a month, when measured (the fleet simulator); by default renewals at 2/3 of the validity. */
  readonly certificatesPerDeviceMonth?: number;
}

export interface CostLine {
  readonly item: string;
  readonly monthlyUsd: number;
}

/** What `count` certificates issued in one month cost in general-purpose mode, tier by tier. */
export function generalPurposeCertificates(count: number): number {
  let left = count;
  let from = 0;
  let usd = 0;
  for (const [upTo, price] of PRICES.generalPurposeTiers) {
    const inTier = Math.min(left, upTo - from);
    usd += inTier * price;
    left -= inTier;
    from = upTo;
    if (left <= 0) break;
  }
  return usd;
}

/**
 * Monthly estimate: certificates renew at about two thirds of their validity; each renewal costs a Private CA
 * certificate plus a handful of API requests, Lambda invocations and DynamoDB writes.
 */
export function estimateCost(input: CostInput): {
  lines: CostLine[];
  totalUsd: number;
  certificatesPerDevice: number;
  caMode: CaMode;
} {
  const caMode = input.caMode ?? "short-lived";
  const renewEverySeconds = (input.validitySeconds * 2) / 3;
  const certificatesPerDevice =
    input.certificatesPerDeviceMonth ?? (MINUTES_PER_MONTH * 60) / renewEverySeconds;
  const certificates = certificatesPerDevice * input.devices;
  // Per renewal: info + credentials + verify; ~2 more for reconnects.
  const requests = certificates * 5;
  const lines: CostLine[] = [
    { item: `Private CA (${caMode} mode)`, monthlyUsd: PRICES.ca[caMode] },
    {
      item: "Private CA certificates",
      monthlyUsd:
        caMode === "short-lived"
          ? certificates * PRICES.shortLivedPerCertificate
          : generalPurposeCertificates(certificates),
    },
    {
      item: "IoT Core connectivity (always connected)",
      monthlyUsd: ((input.devices * MINUTES_PER_MONTH) / 1e6) * PRICES.iotConnectivityPerMillionMinutes,
    },
    {
      item: "IoT Core messaging",
      monthlyUsd:
        ((input.devices * MINUTES_PER_MONTH * input.messagesPerMinute) / 1e6) * PRICES.iotMessagesPerMillion,
    },
    {
      item: "Lambda (512 MB arm64, ~100 ms)",
      monthlyUsd:
        (requests / 1e6) * PRICES.lambdaPerMillionRequests + requests * 0.5 * 0.1 * PRICES.lambdaPerGbSecond,
    },
    {
      item: "DynamoDB on demand",
      monthlyUsd:
        ((certificates * 6) / 1e6) * PRICES.dynamoPerMillionWrites +
        ((requests * 2) / 1e6) * PRICES.dynamoPerMillionReads,
    },
    { item: "API Gateway HTTP API", monthlyUsd: (requests / 1e6) * PRICES.apiPerMillionRequests },
  ];
  return { lines, totalUsd: lines.reduce((sum, l) => sum + l.monthlyUsd, 0), certificatesPerDevice, caMode };
}

/** Both CA modes priced for one fleet: which is cheaper, and from how many devices general-purpose wins. */
export function compareCaModes(input: Omit<CostInput, "caMode">) {
  const shortLived = estimateCost({ ...input, caMode: "short-lived" });
  const generalPurpose = estimateCost({ ...input, caMode: "general-purpose" });
  const cheaper: CaMode = generalPurpose.totalUsd < shortLived.totalUsd ? "general-purpose" : "short-lived";
  return { shortLived, generalPurpose, cheaper, crossoverDevices: crossoverDevices(input.validitySeconds) };
}

/**
 * The smallest fleet (devices, at this validity) from which general-purpose mode costs less than short-lived
 * mode. Only the CA lines differ between the modes, and their difference only grows with the fleet past the
 * first tiers, so a binary search finds it.
 */
export function crossoverDevices(validitySeconds: number): number {
  const caCost = (devices: number, caMode: CaMode) =>
    estimateCost({ devices, validitySeconds, messagesPerMinute: 0, caMode })
      .lines.slice(0, 2)
      .reduce((sum, l) => sum + l.monthlyUsd, 0);
  let low = 1;
  let high = 1;
  while (caCost(high, "general-purpose") >= caCost(high, "short-lived")) high *= 2;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (caCost(mid, "general-purpose") < caCost(mid, "short-lived")) high = mid;
    else low = mid + 1;
  }
  return low;
}

const usd = (n: number) =>
  n >= 100
    ? `$${Math.round(n).toLocaleString("en-US")}`
    : `$${n.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })}`;

/**
 * README's cost table, from the same estimate as `tether cost` (a unit test keeps README equal to it): fleets
 * of 1,000 to 1,000,000 devices on 7-day certificates, one message a minute, both CA modes.
 */
export function costTableMarkdown(): string {
  const fleets = [1_000, 10_000, 100_000, 1_000_000];
  const validitySeconds = 7 * 86_400;
  const compared = fleets.map((devices) =>
    compareCaModes({ devices, validitySeconds, messagesPerMinute: 1 }),
  );
  const header = `| per month | ${fleets.map((n) => `${n.toLocaleString("en-US")} devices`).join(" | ")} |`;
  const rule = `| --- | ${fleets.map(() => "---:").join(" | ")} |`;
  const lineRow = (index: number, mode: "shortLived" | "generalPurpose", label?: string) =>
    `| ${label ?? compared[0]?.[mode].lines[index]?.item} | ${compared.map((c) => usd(c[mode].lines[index]?.monthlyUsd ?? 0)).join(" | ")} |`;
  const rows = [
    lineRow(0, "shortLived", "Private CA, short-lived mode"),
    lineRow(1, "shortLived", "certificates, short-lived mode ($0.058 each)"),
    lineRow(0, "generalPurpose", "Private CA, general-purpose mode"),
    lineRow(
      1,
      "generalPurpose",
      "certificates, general-purpose mode ($0.75 → $0.35 → $0.001 by monthly volume)",
    ),
    ...[2, 3, 4, 5, 6].map((i) => lineRow(i, "shortLived")),
    `| **total, short-lived mode** | ${compared.map((c) => usd(c.shortLived.totalUsd)).join(" | ")} |`,
    `| **total, general-purpose mode** | ${compared.map((c) => usd(c.generalPurpose.totalUsd)).join(" | ")} |`,
    `| cheaper | ${compared.map((c) => c.cheaper).join(" | ")} |`,
  ];
  const perDevice = compared[0]?.shortLived.certificatesPerDevice ?? 0;
  return [
    `With 7-day certificates renewed at about two thirds of their life, a device gets ${perDevice.toFixed(1)} certificates a month. General-purpose mode becomes cheaper from ${crossoverDevices(validitySeconds).toLocaleString("en-US")} devices.`,
    "",
    header,
    rule,
    ...rows,
  ].join("\n");
}

/** `7d`, `36h`, `90m`, `3600s` or plain seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] ?? ""] ?? 1;
  return Math.round(Number(match[1]) * unit);
}
