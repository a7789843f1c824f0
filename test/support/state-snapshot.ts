import { createHash } from "node:crypto";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { ListCertificatesCommand, ListThingsCommand } from "@aws-sdk/client-iot";
import type { LocalTestBed } from "./test-bed.ts";

/**
 * A digest of everything a request could change: every table item (but the activity counters) and the IoT registry
 * (certificates with their status, things). Test-only: a Scan is fine on an emulator with a handful of items.
 */
export async function stateDigest(bed: LocalTestBed): Promise<string> {
  const items: unknown[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await bed.clients.dynamo.send(
      new ScanCommand({ TableName: bed.env.tableName, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    // A realm's hourly activity counters count refusals by design (the overview's chart of refusals by cause):
    // what they hold is a tally of requests, not state a request changes, so they are left out.
    items.push(...(page.Items ?? []).filter((item) => item.kind?.S !== "activity"));
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  const [certificates, things] = await Promise.all([
    bed.clients.iot.send(new ListCertificatesCommand({ pageSize: 250 })),
    bed.clients.iot.send(new ListThingsCommand({ maxResults: 250 })),
  ]);
  const canonical = JSON.stringify({
    items: items.map((i) => JSON.stringify(i)).sort(),
    certificates: (certificates.certificates ?? []).map((c) => `${c.certificateId}:${c.status}`).sort(),
    things: (things.things ?? []).map((t) => t.thingName).sort(),
  });
  return createHash("sha256").update(canonical).digest("hex");
}
