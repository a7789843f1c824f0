import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_GRANTS } from "../../local/dashboard-grants.ts";
import { TetherDevice } from "../../sdk/index.ts";
import { ARTIFACTS, launchChromium, requireChromium } from "../support/browser.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

describe("the dashboard in a real browser (Kaa's endpoint list, in Tether's terms)", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let browser: Browser;
  let page: Page;
  let token = "";
  let stateRoot: string;
  const meters: TetherDevice[] = [];

  beforeAll(async () => {
    requireChromium();
    tether = await startLocalTether({
      dashboard: () => ({
        appengineUrl: `${tether.url}/appengine`,
        pairingUrl: `${tether.url}/pairing`,
        realm: "dash",
        token,
        metadataColumns: ["model", "mac"],
      }),
    });
    realm = await tether.createRealm("dash");
    // The token npm start gives its dashboard: the dashboard must work with exactly these grants.
    token = await realm.jwt(DASHBOARD_GRANTS, { expiresInSeconds: 3600 });
    stateRoot = await mkdtemp(join(tmpdir(), "tether-dash-"));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(meters.map((m) => m.close()));
    await browser?.close();
    await tether?.close();
    if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
  });

  it("registers a meter from the form, shows it connected with its metadata, and inhibits it", async () => {
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
    });
    const response = await page.goto(`${tether.url}/#/devices`);
    await page.waitForSelector("#devices");
    expect(await page.textContent("#realm-name")).toContain("dash");
    // A strict CSP (no inline script), no framing, no sniffing; and the page runs under it.
    const headers = response?.headers() ?? {};
    const csp = headers["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["x-content-type-options"]).toBe("nosniff");

    // Register from the form: the secret is shown once.
    await page.click("text=Random id");
    const deviceId = await page.inputValue("#hw-id");
    await page.click("#register-form button[type=submit]");
    const secret = (await page.textContent("#secret-value", { timeout: 10_000 }))?.trim() ?? "";
    expect(secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    // The meter pairs with the SDK and reports its metadata.
    const meter = new TetherDevice({
      pairingUrl: `${tether.url}/pairing`,
      realm: "dash",
      deviceId,
      credentialsSecret: secret,
      stateDir: join(stateRoot, deviceId),
      brokerCa: testBed().env.caCertPem,
    });
    meters.push(meter);
    await meter.connect();
    await meter.setMetadata({ model: "MySmartMeter A300", mac: "00-14-22-01-23-45" });

    // The list shows it connected, with model and mac columns.
    const row = `tr[data-device="${deviceId}"]`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      // A fresh load each time (a hash-only navigation would not reload the list).
      await page.goto(`${tether.url}/?at=${Date.now()}#/devices`);
      await page.waitForSelector(row);
      const connected = await page.textContent(`${row} td.connected`);
      const model = await page.textContent(`${row} td[data-column=model]`);
      if ((connected?.includes("yes") && model === "MySmartMeter A300") || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await page.textContent(`${row} td.connected`)).toContain("yes");
    expect(await page.textContent(`${row} td[data-column=model]`)).toBe("MySmartMeter A300");
    expect(await page.textContent(`${row} td[data-column=mac]`)).toBe("00-14-22-01-23-45");
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-endpoint-list.png"), fullPage: true });

    // The device page: status, metadata, timeline; inhibit and revoke.
    await page.click(`${row} a`);

    await page.waitForSelector("#timeline li");
    expect(await page.textContent("#timeline")).toContain("issued");
    expect(await page.textContent("#metadata")).toContain("MySmartMeter A300");
    // A destructive action asks first: dismissed, nothing happens; accepted, it is done.
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.click("#revoke");
    await page.waitForTimeout(500);
    expect(await page.textContent("#credentials-state")).toBe("enabled");
    expect(await page.textContent("#timeline")).not.toContain("revoked");
    let asked = "";
    page.once("dialog", (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.click("#revoke");
    await page.waitForSelector("#uninhibit");
    expect(asked).toMatch(/revoke its certificates now/);
    expect(await page.textContent("#credentials-state")).toBe("inhibited");
    expect(await page.textContent("#timeline")).toContain("revoked");
    const dropDeadline = Date.now() + 5_000;
    while (meter.connected && Date.now() < dropDeadline) await new Promise((r) => setTimeout(r, 100));
    expect(meter.connected).toBe(false);
    // The page follows without a reload: the broker's disconnection reaches the record, the next poll shows it.
    const url = page.url();
    await page.waitForSelector('#connected-state:text-is("no")', { timeout: 20_000 });
    expect(page.url()).toBe(url);
    await page.waitForSelector("#live:text-matches('^Live: updated')");
    expect(violations).toEqual([]);
  });

  it("rotates a secret (shown once) and unregisters, from the device page, asking first", async () => {
    const api = tether.api(await realm.jwt());
    const deviceId = "AQIDBAUGBwgJCgsMDQ4PEA";
    await api.call("registerDevice", { params: { realm: "dash" }, body: { data: { hw_id: deviceId } } });
    await page.goto(`${tether.url}/?at=${Date.now()}#/device/${deviceId}`);
    await page.waitForSelector("#rotate-secret");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click("#rotate-secret");
    const secret = (await page.textContent("#secret-value", { timeout: 10_000 }))?.trim() ?? "";
    expect(secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const info = (bearer: string) =>
      tether.request("GET", `/pairing/v1/dash/devices/${deviceId}`, { token: bearer });
    expect((await info(secret)).status).toBe(200);
    // Shown once: gone once the reader leaves the page.
    await page.goto(`${tether.url}/?at=${Date.now()}#/devices`);
    await page.goto(`${tether.url}/?at=${Date.now()}#/device/${deviceId}`);
    await page.waitForSelector("#rotate-secret");
    expect(await page.$("#secret-value")).toBeNull();

    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.click("#unregister");
    await page.waitForTimeout(300);
    expect(await page.$("#unregistered")).toBeNull();
    let asked = "";
    page.once("dialog", (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.click("#unregister");
    await page.waitForSelector("#unregistered");
    expect(asked).toMatch(/^Unregister /);
    await page.waitForSelector('#timeline:has-text("unregistered")');
    expect((await info(secret)).status).toBe(403);
  });

  it("fits a 390 px screen: overview, list and device page scroll no wider than it", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      for (const hash of ["#/", "#/devices", "#/device/AQIDBAUGBwgJCgsMDQ4PEA"]) {
        await phone.goto(`${tether.url}/?at=${Date.now()}${hash}`);
        await phone.waitForSelector("#live");
        const width = await phone.$eval("html", (html) => html.scrollWidth);
        expect(width, hash).toBeLessThanOrEqual(390);
      }
      await mkdir(ARTIFACTS, { recursive: true });
      await phone.screenshot({ path: join(ARTIFACTS, "dashboard-device-390px.png"), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  it("says a device is not found, and shows times with their zone", async () => {
    await page.goto(`${tether.url}/?at=${Date.now()}#/device/AAAAAAAAAAAAAAAAAAAAAA`);
    await page.waitForSelector("#not-found");
    expect(await page.textContent("#not-found")).toContain("AAAAAAAAAAAAAAAAAAAAAA");
    await page.goto(`${tether.url}/?at=${Date.now()}#/devices`);
    await page.click("#devices tbody tr a");
    await page.waitForSelector("#status");
    const registered = await page.textContent("#status dt:has-text('First registration') + dd");
    // A zone name or offset after the time (Chromium's "short" zone: UTC, GMT+1, PST, …).
    expect(registered).toMatch(/\d(:\d\d)+( [AP]M)? (UTC|GMT|[A-Z]{2,5})([+-]\d+(:\d\d)?)?$/);
  });

  it("shows API errors as readable messages, never a blank page", async () => {
    await page.goto(`${tether.url}/?at=${Date.now()}#/`);
    await page.evaluate(() => {
      sessionStorage.setItem("tether.realm", "dash");
      sessionStorage.setItem("tether.token", "not-a-jwt");
    });
    await page.reload();
    await page.waitForSelector("#error:not([hidden])");
    expect(await page.textContent("#error")).toBe("Invalid JWT token (401)");
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${tether.url}/?at=${Date.now()}#/devices`);
    await page.waitForSelector("#hw-id");
    await page.fill("#hw-id", "not-an-id");
    await page.click("#register-form button[type=submit]");
    await page.waitForSelector("#error:not([hidden])");
    expect(await page.textContent("#error")).toBe("hw_id: is not a valid base64 encoded 128 bits id");
  });
});
