import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { pairDevice } from "../support/device.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, "../../cli/bin/tether.mjs");

describe("the tether CLI (the real binary)", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  /** Runs `tether ...args`; resolves with exit code and output, never throws on a non-zero exit. */
  async function tether_(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
        env,
        cwd: dir,
        timeout: 30_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("cli");
    dir = await mkdtemp(join(tmpdir(), "tether-cli-"));
    await writeFile(join(dir, "cli.key.pem"), realm.privateKeyPem);
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      TETHER_STATE_DIR: join(dir, "no-local-instance"),
      TETHER_PAIRING_URL: `${tether.url}/pairing`,
      TETHER_ADMIN_TOKEN: tether.adminToken,
      TETHER_REALM: "cli",
      TETHER_REALM_KEY: join(dir, "cli.key.pem"),
    };
  });
  afterAll(async () => {
    await tether.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("explains itself: tether --help and every subcommand's --help", async () => {
    const top = await tether_("--help");
    expect(top.code).toBe(0);
    for (const word of [
      "realm create",
      "device register",
      "register-bulk",
      "cost",
      "jwt gen",
      "Exit codes",
    ]) {
      expect(top.stdout).toContain(word);
    }
    const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+(?: [a-z-]+)?) {2,}/gm)].map((m) => m[1] ?? "");
    expect(commands.length).toBeGreaterThanOrEqual(18);
    for (const command of commands) {
      const help = await tether_(...command.split(" "), "--help");
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(/Usage: tether /);
    }
    const unknown = await tether_("frobnicate");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown command");
    // A group's help lists that group's commands; a command that runs locally shows no connection options.
    const group = await tether_("device", "--help");
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/device show[\s\S]*device inhibit/);
    expect(group.stdout).not.toContain("realm create");
    expect((await tether_("device")).code).toBe(1);
    const cost = await tether_("cost", "--help");
    expect(cost.stdout).toContain("Usage: tether cost");
    expect(cost.stdout).not.toContain("--pairing-url");
    expect((await tether_("device", "show", "--help")).stdout).toContain("--pairing-url");
  });

  it("manages realms: create, list, show, rotate-key, delete", async () => {
    expect((await tether_("keys", "gen", "--out", "other")).code).toBe(0);
    expect((await stat(join(dir, "other.key.pem"))).mode & 0o777).toBe(0o600);
    const created = await tether_(
      "realm",
      "create",
      "other",
      "--public-key",
      "other.pub.pem",
      "--validity",
      "2d",
      "--device-limit",
      "10",
      "--indexed-metadata",
      "model",
    );
    expect(created.code, created.stderr).toBe(0);
    expect((await tether_("realm", "list")).stdout.split("\n")).toContain("other");
    const shown = JSON.parse((await tether_("realm", "show", "other", "--json")).stdout);
    expect(shown).toMatchObject({
      realm_name: "other",
      certificate_validity_seconds: 172_800,
      device_limit: 10,
      indexed_metadata_keys: ["model"],
    });
    const indexed = await tether_("realm", "index-metadata", "other", "model,mac");
    expect(indexed.stdout).toContain("metadata indexed: model, mac");
    expect((await tether_("realm", "index-metadata", "other")).code).toBe(1);
    const listed = await tether_(
      "device",
      "list",
      "--realm",
      "other",
      "--realm-key",
      join(dir, "other.key.pem"),
      "--metadata",
      "model=A300",
      "--json",
    );
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    expect((await tether_("keys", "gen", "--out", "next")).code).toBe(0);
    expect((await tether_("realm", "rotate-key", "other", "--public-key", "next.pub.pem")).code).toBe(0);
    const again = await tether_("realm", "create", "other", "--public-key", "other.pub.pem");
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("has already been taken");
    expect((await tether_("realm", "delete", "other")).code).toBe(0);
    expect((await tether_("realm", "show", "other")).code).toBe(3);
  });

  it("manages a device's whole life: register, show, list, inhibit --revoke, uninhibit, rotate-secret, unregister", async () => {
    const id = (
      await tether_("device-id", "from-string", "f79ad91f-c638-4889-ae74-9d001a3b4cf8", "myidentifierdata")
    ).stdout.trim();
    expect(id).toBe("AJInS0w3VpWpuOqkXhgZdA");
    const registered = await tether_("device", "register", id, "--json");
    expect(registered.code, registered.stderr).toBe(0);
    expect(JSON.parse(registered.stdout).credentials_secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    // An id starting with "-" (1 in 64 random ids): the CLI must still take it as the device id, not options.
    let dashed = randomDeviceId();
    while (!dashed.startsWith("-")) dashed = randomDeviceId();
    const paired = await pairDevice(tether, realm, dashed);

    const show = await tether_("device", "show", paired.deviceId);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/timeline\n.*issued/s);
    expect((await tether_("device", "list")).stdout).toContain(paired.deviceId);
    // Tether's search: the paired device is confirmed, the one only registered is pending.
    const confirmed = await tether_("device", "list", "--status", "confirmed");
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toContain(paired.deviceId);
    expect(confirmed.stdout).not.toContain(id);
    expect((await tether_("device", "list", "--status", "pending", "--sort", "last_seen")).stdout).toContain(
      id,
    );
    const unserved = await tether_("device", "list", "--connected", "true");
    expect(unserved.code).toBe(3);
    expect(unserved.stderr).toMatch(/served/);
    const watched = await tether_(
      "device",
      "watch",
      paired.deviceId,
      "--polls",
      "2",
      "--interval",
      "0.2",
      "--json",
    );
    expect(watched.code, watched.stderr).toBe(0);
    const changes = watched.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { kind: string; text: string });
    expect(changes.map((c) => c.kind)).toEqual(["presence", "credentials", "certificate"]);
    expect(changes[2]?.text).toMatch(/^certificate [0-9a-f:]+ current until /);

    const inhibited = JSON.parse(
      (await tether_("device", "inhibit", paired.deviceId, "--revoke", "--json")).stdout,
    );
    expect(inhibited).toMatchObject({ credentials_inhibited: true });
    expect((await tether_("device", "show", paired.deviceId)).stdout).toContain("revoked");
    expect(
      JSON.parse((await tether_("device", "uninhibit", paired.deviceId, "--json")).stdout)
        .credentials_inhibited,
    ).toBe(false);
    expect((await tether_("device", "rotate-secret", paired.deviceId)).stdout.trim()).toMatch(/=$/);
    expect((await tether_("device", "unregister", paired.deviceId)).code).toBe(0);
    const gone = await tether_("device", "unregister", randomDeviceId());
    expect([gone.code, gone.stderr.trim()]).toEqual([3, "tether device unregister: Device not found"]);
    const bad = await tether_("device", "show", "not-an-id");
    expect(bad.code).toBe(1);
  });

  it("registers in bulk from CSV, resumably: a second run skips what is done; secrets file is 0600", async () => {
    const ids = Array.from({ length: 6 }, () => randomDeviceId());
    await writeFile(
      join(dir, "fleet.csv"),
      `hw_id,label\n${ids.map((id, i) => `${id},meter-${i}`).join("\n")}\nnot-an-id,broken\n`,
    );
    const first = await tether_("register-bulk", "fleet.csv", "--out", "secrets.csv", "--json");
    expect(first.code).toBe(5);
    // snake_case, like every other --json output.
    expect(JSON.parse(first.stdout)).toMatchObject({
      created: 6,
      skipped: 0,
      failed: 1,
      failures: [{ hw_id: "not-an-id" }],
      secrets_file: expect.stringContaining("secrets.csv"),
    });
    const second = await tether_("register-bulk", "fleet.csv", "--out", "secrets.csv", "--json");
    expect(JSON.parse(second.stdout)).toMatchObject({ created: 0, skipped: 6, failed: 1 });
    const secrets = (await readFile(join(dir, "secrets.csv"), "utf8")).trim().split("\n");
    expect(secrets).toHaveLength(7);
    expect((await stat(join(dir, "secrets.csv"))).mode & 0o777).toBe(0o600);
    await writeFile(join(dir, "fleet.json"), JSON.stringify([{ hw_id: randomDeviceId() }, randomDeviceId()]));
    const json = await tether_("register-bulk", "fleet.json", "--out", "secrets.csv", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ created: 2, failed: 0 });
  });

  it("mints JWTs the API accepts, and estimates cost", async () => {
    const token = (await tether_("jwt", "gen", "--claims", "appengine")).stdout.trim();
    const list = await tether.request("GET", "/appengine/v1/cli/devices", { token });
    expect(list.status).toBe(200);
    const cost = JSON.parse(
      (await tether_("cost", "--devices", "1000", "--validity", "7d", "--json")).stdout,
    );
    expect(cost.certificates_per_device).toBeCloseTo(6.43, 1);
    expect(cost.total_usd).toBeGreaterThan(400);
    expect((await tether_("cost", "--devices", "1000", "--validity", "30d")).code).toBe(1);
  });

  it("says how to point it somewhere when there is no instance", async () => {
    const lost = await run(process.execPath, [BIN, "device", "list"], {
      env: { PATH: process.env.PATH, TETHER_STATE_DIR: join(dir, "nothing") },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((lost as { code: number }).code).toBe(2);
    expect((lost as { stderr: string }).stderr).toContain("npm start");
  });
});
