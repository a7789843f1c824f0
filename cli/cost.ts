/** List prices (us-east-1) the estimate uses; change them here if AWS does. */
export const PRICES = {
  caPerMonth: 50,
  perCertificate: 0.058,
  iotConnectivityPerMillionMinutes: 0.08,
  iotMessagesPerMillion: 1,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  dynamoPerMillionWrites: 1.25,
  dynamoPerMillionReads: 0.25,
  apiPerMillionRequests: 1,
} as const;

const MINUTES_PER_MONTH = 30 * 24 * 60;

export interface CostInput {
  readonly devices: number;
  readonly validitySeconds: number;
  /** Messages each device publishes per minute (IoT messaging). */
  readonly messagesPerMinute: number;
}

export interface CostLine {
  readonly item: string;
  readonly monthlyUsd: number;
}

/**
 * Monthly estimate: certificates renew at about two thirds of their validity; each renewal costs a Private CA
 * certificate plus a handful of API requests, Lambda invocations and DynamoDB writes.
 */
export function estimateCost(input: CostInput): {
  lines: CostLine[];
  totalUsd: number;
  certificatesPerDevice: number;
} {
  const renewEverySeconds = (input.validitySeconds * 2) / 3;
  const certificatesPerDevice = (MINUTES_PER_MONTH * 60) / renewEverySeconds;
  const certificates = certificatesPerDevice * input.devices;
  // Per renewal: info + credentials + verify; ~2 more for reconnects.
  const requests = certificates * 5;
  const lines: CostLine[] = [
    { item: "Private CA (short-lived mode)", monthlyUsd: PRICES.caPerMonth },
    { item: "Private CA certificates", monthlyUsd: certificates * PRICES.perCertificate },
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
  return { lines, totalUsd: lines.reduce((sum, l) => sum + l.monthlyUsd, 0), certificatesPerDevice };
}

/** `7d`, `36h`, `90m`, `3600s` or plain seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] ?? ""] ?? 1;
  return Math.round(Number(match[1]) * unit);
}
