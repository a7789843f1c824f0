import { appendFile, chmod, readFile, writeFile } from "node:fs/promises";
import { canonicalDeviceId } from "../functions/contracts/ids.ts";
import { CliError, EXIT } from "./errors.ts";

export interface BulkSummary {
  created: number;
  skipped: number;
  failed: number;
  failures: { hwId: string; error: string }[];
}

/** Device ids from a CSV (a `hw_id` column, or one id per line) or JSON (ids, or objects with `hw_id`). */
export async function readDeviceIds(path: string): Promise<string[]> {
  const text = await readFile(path, "utf8").catch(() => {
    throw new CliError(`cannot read ${path}`, EXIT.usage);
  });
  if (path.endsWith(".json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError(`${path} is not JSON`, EXIT.usage);
    }
    if (!Array.isArray(parsed)) throw new CliError(`${path} must hold a JSON array`, EXIT.usage);
    return parsed.map((entry) =>
      String(typeof entry === "object" && entry ? (entry as { hw_id?: unknown }).hw_id : entry),
    );
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const header = lines[0]?.split(",").map((c) => c.trim());
  const column = header?.indexOf("hw_id") ?? -1;
  const rows = column >= 0 ? lines.slice(1) : lines;
  return rows.map((row) => row.split(",")[Math.max(column, 0)]?.trim() ?? "");
}

/** Ids already written to the secrets file by an earlier (interrupted) run: they are skipped. */
export async function alreadyDone(outPath: string): Promise<Set<string>> {
  const text = await readFile(outPath, "utf8").catch(() => "");
  return new Set(
    text
      .split(/\r?\n/)
      .slice(1)
      .map((line) => line.split(",")[0] ?? "")
      .filter(Boolean),
  );
}

/** Opens (or continues) the secrets file: CSV `device_id,credentials_secret`, mode 0600. */
export async function openSecretsFile(
  outPath: string,
): Promise<(deviceId: string, secret: string) => Promise<void>> {
  const existing = await readFile(outPath, "utf8").catch(() => undefined);
  if (existing === undefined) await writeFile(outPath, "device_id,credentials_secret\n", { mode: 0o600 });
  await chmod(outPath, 0o600);
  return (deviceId, secret) => appendFile(outPath, `${deviceId},${secret}\n`);
}

/** Registers ids with bounded concurrency; a 422 "already registered" counts as skipped, not failed. */
export async function registerAll(
  ids: readonly string[],
  done: Set<string>,
  register: (deviceId: string) => Promise<string>,
  record: (deviceId: string, secret: string) => Promise<void>,
  options: { concurrency: number; onProgress: (finished: number, total: number) => void },
): Promise<BulkSummary> {
  const summary: BulkSummary = { created: 0, skipped: 0, failed: 0, failures: [] };
  let next = 0;
  let finished = 0;
  const worker = async () => {
    while (next < ids.length) {
      const hwId = ids[next++] ?? "";
      const deviceId = canonicalDeviceId(hwId);
      try {
        if (!deviceId) throw new Error("not a valid device id");
        if (done.has(deviceId)) {
          summary.skipped++;
        } else {
          const secret = await register(deviceId);
          await record(deviceId, secret);
          done.add(deviceId);
          summary.created++;
        }
      } catch (error) {
        if (error instanceof CliError && /already registered/i.test(error.message)) summary.skipped++;
        else {
          summary.failed++;
          summary.failures.push({ hwId, error: (error as Error).message });
        }
      }
      options.onProgress(++finished, ids.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return summary;
}
