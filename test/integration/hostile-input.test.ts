import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { ecCsr, rsaCsr } from "../support/csr-variants.ts";
import { type PairedDevice, pairDevice, registerDevice } from "../support/device.ts";
import { stateDigest } from "../support/state-snapshot.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

// Everything the handlers log during this file is captured and searched for secrets afterwards. Their JSON
// lines (hundreds) are shown only when TETHER_TEST_LOG_LEVEL asks for logs.
const showLogs = process.env.TETHER_TEST_LOG_LEVEL !== undefined;
process.env.TETHER_TEST_LOG_LEVEL = "DEBUG";
const captured: string[] = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    captured.push(text);
    if (showLogs || !text.startsWith('{"level"')) return write(chunk, ...(rest as never[]));
    const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    if (done) queueMicrotask(done);
    return true;
  }) as typeof stream.write;
}

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
  readonly expect: readonly number[];
}

const BAD_IDS = [
  "",
  "a",
  "AJInS0w3VpWpuOqkXhgZd",
  "AJInS0w3VpWpuOqkXhgZdB",
  "AJInS0w3VpWpuOqkXhgZdA==",
  "AJInS0w3VpWpuOqkXhg+dA",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "AJInS0w3VpWpuOqkXhgZd%00",
  "%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00",
  "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9",
  "%F0%9F%92%A9%F0%9F%92%A9%F0%9F%92%A9%F0%9F%92%A9%F0%9F%92%A9%F0%9F%92%A9",
  "A".repeat(4000),
  "'%20OR%201%3D1%20--%20xxxxxxxxxxxx",
  "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
  "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D%24%7Bjndi%3Aldap%3A%2F%2Fx%7D",
  "%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20%20",
  "AJInS0w3VpWpuOqkXhgZdA%0A",
  "%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25",
  "-_-_-_-_-_-_-_-_-_-_-_",
  "AJInS0w3VpWpuOqkXhgZdA%20",
];
const BAD_HW_IDS = [
  "",
  "a",
  "AJInS0w3VpWpuOqkXhgZd",
  "AJInS0w3VpWpuOqkXhgZdB",
  "AJInS0w3VpWpuOqkXhg/dA",
  "AJInS0w3VpWpuOqkXhg+dA",
  "../../etc/passwd/xxxxxxxx",
  "AJInS0w3VpWpuOqkXhgZd\u0000",
  "\u0000".repeat(22),
  "é".repeat(22),
  "💩".repeat(11),
  "' OR 1=1 -- xxxxxxxxxxxxx",
  "<script>alert(1)</script>",
  " ".repeat(22),
  "AJInS0w3VpWpuOqkXhgZdA\n",
  "%".repeat(22),
  "AJInS0w3VpWpuOqkXhgZdA=",
];
const BAD_REALMS = [
  "Hostile",
  "1realm",
  "realm-with-dash",
  "a".repeat(49),
  "%2e%2e",
  "real%00m",
  "r%C3%A9alm",
  "_x",
];
const BAD_BODIES: readonly (readonly [string, string, number])[] = [
  ["empty", "", 400],
  ["truncated", '{"data": {"hw_id": "AJIn', 400],
  ["open brace", "{", 400],
  ["null", "null", 400],
  ["array", "[]", 400],
  ["string", '"data"', 400],
  ["number", "42", 400],
  ["data null", '{"data": null}', 400],
  ["data array", '{"data": []}', 400],
  ["data number", '{"data": 1}', 400],
  ["data string", '{"data": "x"}', 400],
  ["no data", '{"hw_id": "AJInS0w3VpWpuOqkXhgZdA"}', 400],
  ["deep nesting", `${"[".repeat(5000)}${"]".repeat(5000)}`, 400],
  ["NUL bytes", '{"data": \u0000}', 400],
  ["BOM + garbage", '\ufeff{"data"', 400],
  ["huge", JSON.stringify({ data: { pad: "x".repeat(70_000) } }), 413],
];

describe("hostile input: every route, 500+ cases, no 5xx, the documented error, no state change", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let device: PairedDevice;
  let pendingSecret: string;
  const secrets: string[] = [];
  const cases: Case[] = [];

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("hostile");
    const other = await tether.createRealm("elsewhere");
    device = await pairDevice(tether, realm, randomDeviceId());
    const pending = randomDeviceId();
    pendingSecret = await registerDevice(tether, realm, pending);
    secrets.push(device.secret, pendingSecret);

    const agent = await realm.jwt({ a_pa: [".*::.*"] });
    const app = await realm.jwt({ a_aea: [".*::.*"] });
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const now = Math.floor(Date.now() / 1000);
    const publicPem = await exportSPKI(publicKey);
    const badTokens: readonly (readonly [string, string | undefined, number])[] = [
      ["no header", undefined, 401],
      ["bare scheme", "Bearer", 401],
      ["basic", "Basic YWRtaW46YWRtaW4=", 401],
      ["garbage", "Bearer garbage", 401],
      ["three dots", "Bearer a.b.c", 401],
      [
        "alg none",
        `Bearer ${b64({ alg: "none" })}.${b64({ a_pa: [".*::.*"], a_aea: [".*::.*"], exp: now + 60 })}.`,
        401,
      ],
      [
        "HS256 with the realm's public key",
        `Bearer ${await new SignJWT({ a_pa: [".*::.*"], a_aea: [".*::.*"] }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(publicPem))}`,
        401,
      ],
      [
        "expired",
        `Bearer ${await realm.jwt({ a_pa: [".*::.*"], a_aea: [".*::.*"] }, { expiresInSeconds: -10 })}`,
        401,
      ],
      [
        "another realm's key",
        `Bearer ${await new SignJWT({ a_pa: [".*::.*"], a_aea: [".*::.*"] }).setProtectedHeader({ alg: "ES256" }).sign(privateKey)}`,
        401,
      ],
      ["other realm's real token", `Bearer ${await other.jwt()}`, 401],
      // The realm's key is EC P-256: every other algorithm (each signed by a key that fits it) is 401.
      ...(await Promise.all(
        (["ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const).map(
          async (alg) =>
            [
              `alg ${alg} against the realm's P-256 key`,
              `Bearer ${await new SignJWT({ a_pa: [".*::.*"], a_aea: [".*::.*"] })
                .setProtectedHeader({ alg })
                .setExpirationTime(now + 60)
                .sign((await generateKeyPair(alg)).privateKey)}`,
              401,
            ] as const,
        ),
      )),
      ["duplicated", `Bearer ${agent}, Bearer ${app}`, 401],
      ["huge token", `Bearer ${"A".repeat(8000)}`, 401],
      ["two words", `Bearer ${agent} extra`, 401],
    ];

    // A. Agent and AppEngine routes × hostile tokens, plus tokens whose claim does not cover the route.
    const realmRoutes: readonly (readonly [string, string, string | undefined, "a_pa" | "a_aea"])[] = [
      [
        "POST",
        "/pairing/v1/hostile/agent/devices",
        JSON.stringify({ data: { hw_id: randomDeviceId() } }),
        "a_pa",
      ],
      ["DELETE", `/pairing/v1/hostile/agent/devices/${device.deviceId}`, undefined, "a_pa"],
      ["POST", `/pairing/v1/hostile/agent/devices/${device.deviceId}/credentials_secret`, undefined, "a_pa"],
      ["GET", "/appengine/v1/hostile/devices", undefined, "a_aea"],
      ["GET", `/appengine/v1/hostile/devices/${device.deviceId}`, undefined, "a_aea"],
      [
        "PATCH",
        `/appengine/v1/hostile/devices/${device.deviceId}`,
        JSON.stringify({ data: { credentials_inhibited: true } }),
        "a_aea",
      ],
      ["GET", `/appengine/v1/hostile/devices/${device.deviceId}/events`, undefined, "a_aea"],
    ];
    // The algorithm × key-type matrix: realms keyed with RSA, P-384 and P-521 as well, each sent a token of every
    // asymmetric algorithm (signed by a key that fits the algorithm, not the realm's): always 401, never a 5xx.
    const ALGS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
    const signers = new Map(
      await Promise.all(ALGS.map(async (alg) => [alg, (await generateKeyPair(alg)).privateKey] as const)),
    );
    for (const [keyed, keyAlg] of [
      ["hostile_rsa", "RS256"],
      ["hostile_p384", "ES384"],
      ["hostile_p521", "ES512"],
    ] as const) {
      const { publicKey } = await generateKeyPair(keyAlg, { extractable: true });
      await tether.createRealm(keyed, { jwt_public_key_pem: await exportSPKI(publicKey) });
      for (const alg of ALGS) {
        const token = await new SignJWT({ a_pa: [".*::.*"], a_aea: [".*::.*"] })
          .setProtectedHeader({ alg })
          .setExpirationTime(now + 60)
          .sign(signers.get(alg) as Parameters<SignJWT["sign"]>[0]);
        for (const [method, path] of [
          ["GET", `/appengine/v1/${keyed}/devices`],
          ["POST", `/pairing/v1/${keyed}/agent/devices`],
        ] as const) {
          cases.push({
            name: `${method} ${path}: ${alg} token against a ${keyAlg} realm key`,
            method,
            path,
            headers: [["authorization", `Bearer ${token}`]],
            ...(method === "POST" ? { body: JSON.stringify({ data: { hw_id: randomDeviceId() } }) } : {}),
            expect: [401],
          });
        }
      }
    }

    for (const [method, path, body, claim] of realmRoutes) {
      for (const [name, header, status] of badTokens) {
        cases.push({
          name: `${method} ${path}: ${name}`,
          method,
          path,
          headers: header ? [["authorization", header]] : [],
          ...(body ? { body } : {}),
          expect: [status],
        });
      }
      if (path.includes(device.deviceId)) {
        for (const bad of BAD_IDS) {
          cases.push({
            name: `${method} ${path}: device id ${bad.slice(0, 30)}`,
            method,
            path: path.replace(device.deviceId, bad),
            headers: [["authorization", `Bearer ${claim === "a_pa" ? agent : app}`]],
            ...(body ? { body } : {}),
            // An id the router cannot even match (a slash, an empty segment) is "Page not found"; the rest
            // "Device not found"; a JWT's path claim never matches a hostile path (403).
            expect: [403, 404],
          });
        }
      }
      const wrongClaim = claim === "a_pa" ? app : agent;
      cases.push({
        name: `${method} ${path}: wrong claim`,
        method,
        path,
        headers: [["authorization", `Bearer ${wrongClaim}`]],
        ...(body ? { body } : {}),
        expect: [403],
      });
      const narrow = await realm.jwt({ [claim]: ["GET::nothing"] });
      cases.push({
        name: `${method} ${path}: narrow claim`,
        method,
        path,
        headers: [["authorization", `Bearer ${narrow}`]],
        ...(body ? { body } : {}),
        expect: [403],
      });
      for (const bad of BAD_REALMS) {
        cases.push({
          name: `${method} ${path}: realm ${bad}`,
          method,
          path: path.replace("/hostile/", `/${bad}/`),
          headers: [["authorization", `Bearer ${claim === "a_pa" ? agent : app}`]],
          ...(body ? { body } : {}),
          expect: [403, 404],
        });
      }
    }

    // B. Device routes × hostile credentials.
    const cn = `hostile/${device.deviceId}`;
    const { csrPem } = await generateKeyAndCsr({ subject: `CN=${cn}` });
    const deviceRoutes: readonly (readonly [string, string, string | undefined])[] = [
      ["GET", `/pairing/v1/hostile/devices/${device.deviceId}`, undefined],
      [
        "POST",
        `/pairing/v1/hostile/devices/${device.deviceId}/protocols/astarte_mqtt_v1/credentials`,
        JSON.stringify({ data: { csr: csrPem } }),
      ],
      [
        "POST",
        `/pairing/v1/hostile/devices/${device.deviceId}/protocols/astarte_mqtt_v1/credentials/verify`,
        JSON.stringify({ data: { client_crt: device.certPem } }),
      ],
    ];
    const badSecrets: readonly (readonly [string, string | undefined, number])[] = [
      ["no header", undefined, 401],
      ["basic", "Basic abc", 401],
      ["bare scheme", "Bearer", 401],
      ["wrong secret", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 403],
      ["other device's secret", `Bearer ${pendingSecret}`, 403],
      ["agent JWT as secret", `Bearer ${agent}`, 403],
      ["huge secret", `Bearer ${"A".repeat(8000)}`, 403],
      ["duplicated", `Bearer ${device.secret}, Bearer ${device.secret}`, 401],
      ["two words", `Bearer ${device.secret} x`, 401],
    ];
    for (const [method, path, body] of deviceRoutes) {
      for (const [name, header, status] of badSecrets) {
        cases.push({
          name: `${method} ${path}: ${name}`,
          method,
          path,
          headers: header ? [["authorization", header]] : [],
          ...(body ? { body } : {}),
          expect: [status],
        });
      }
      for (const bad of BAD_IDS) {
        cases.push({
          name: `${method} ${path}: device id ${bad.slice(0, 30)}`,
          method,
          path: path.replace(device.deviceId, bad),
          headers: [["authorization", `Bearer ${device.secret}`]],
          ...(body ? { body } : {}),
          expect: [404],
        });
      }
      for (const bad of BAD_REALMS) {
        cases.push({
          name: `${method} ${path}: realm ${bad}`,
          method,
          path: path.replace("/hostile/", `/${bad}/`),
          headers: [["authorization", `Bearer ${device.secret}`]],
          ...(body ? { body } : {}),
          expect: [403, 404],
        });
      }
    }

    // C. Malformed bodies with valid credentials, on every route that takes one.
    const bodyRoutes: readonly (readonly [string, string, string])[] = [
      ["POST", "/pairing/v1/hostile/agent/devices", `Bearer ${agent}`],
      ["POST", deviceRoutes[1]?.[1] ?? "", `Bearer ${device.secret}`],
      ["POST", deviceRoutes[2]?.[1] ?? "", `Bearer ${device.secret}`],
      ["PATCH", `/appengine/v1/hostile/devices/${device.deviceId}`, `Bearer ${app}`],
      ["POST", "/housekeeping/v1/realms", `Bearer ${tether.adminToken}`],
      ["PATCH", "/housekeeping/v1/realms/hostile", `Bearer ${tether.adminToken}`],
    ];
    for (const [method, path, auth] of bodyRoutes) {
      for (const [name, body, status] of BAD_BODIES) {
        cases.push({
          name: `${method} ${path}: body ${name}`,
          method,
          path,
          headers: [["authorization", auth]],
          body,
          expect: [status],
        });
      }
    }
    const typed: readonly (readonly [string, string, string, unknown])[] = [
      ["POST", "/pairing/v1/hostile/agent/devices", `Bearer ${agent}`, { hw_id: 42 }],
      ["POST", "/pairing/v1/hostile/agent/devices", `Bearer ${agent}`, { hw_id: [device.deviceId] }],
      ["POST", "/pairing/v1/hostile/agent/devices", `Bearer ${agent}`, { hw_id: { $ne: "" } }],
      [
        "POST",
        "/pairing/v1/hostile/agent/devices",
        `Bearer ${agent}`,
        { hw_id: randomDeviceId(), initial_introspection: { x: { major: "1", minor: 0 } } },
      ],
      [
        "POST",
        "/pairing/v1/hostile/agent/devices",
        `Bearer ${agent}`,
        { hw_id: randomDeviceId(), initial_introspection: [] },
      ],
      [
        "POST",
        "/pairing/v1/hostile/agent/devices",
        `Bearer ${agent}`,
        { hw_id: randomDeviceId(), initial_introspection: { x: { major: 1.5, minor: 0 } } },
      ],
      ["POST", "/pairing/v1/hostile/agent/devices", `Bearer ${agent}`, { hw_id: device.deviceId }],
      ["POST", deviceRoutes[1]?.[1] ?? "", `Bearer ${device.secret}`, { csr: 42 }],
      ["POST", deviceRoutes[1]?.[1] ?? "", `Bearer ${device.secret}`, { csr: null }],
      ["POST", deviceRoutes[2]?.[1] ?? "", `Bearer ${device.secret}`, { client_crt: {} }],
      [
        "PATCH",
        `/appengine/v1/hostile/devices/${device.deviceId}`,
        `Bearer ${app}`,
        { credentials_inhibited: "true" },
      ],
      [
        "PATCH",
        `/appengine/v1/hostile/devices/${device.deviceId}`,
        `Bearer ${app}`,
        { credentials_inhibited: 1 },
      ],
      ["PATCH", `/appengine/v1/hostile/devices/${device.deviceId}`, `Bearer ${app}`, { id: "x" }],
      [
        "POST",
        "/housekeeping/v1/realms",
        `Bearer ${tether.adminToken}`,
        { realm_name: "ok", jwt_public_key_pem: 7 },
      ],
      [
        "POST",
        "/housekeeping/v1/realms",
        `Bearer ${tether.adminToken}`,
        {
          realm_name: "ok",
          jwt_public_key_pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        },
      ],
      [
        "POST",
        "/housekeeping/v1/realms",
        `Bearer ${tether.adminToken}`,
        { realm_name: "hostile", jwt_public_key_pem: publicPem },
      ],
      [
        "PATCH",
        "/housekeeping/v1/realms/hostile",
        `Bearer ${tether.adminToken}`,
        { certificate_validity_seconds: 1 },
      ],
      ["PATCH", "/housekeeping/v1/realms/hostile", `Bearer ${tether.adminToken}`, { realm_name: "renamed" }],
    ];
    for (const [method, path, auth, data] of typed) {
      cases.push({
        name: `${method} ${path}: data ${JSON.stringify(data).slice(0, 60)}`,
        method,
        path,
        headers: [["authorization", auth]],
        body: JSON.stringify({ data }),
        expect: [422],
      });
    }
    for (const hwId of BAD_HW_IDS) {
      cases.push({
        name: `register hw_id ${JSON.stringify(hwId).slice(0, 30)}`,
        method: "POST",
        path: "/pairing/v1/hostile/agent/devices",
        headers: [["authorization", `Bearer ${agent}`]],
        body: JSON.stringify({ data: { hw_id: hwId } }),
        expect: [422],
      });
    }

    // D. Hostile CSRs: the device's own secret, a CSR that must not be signed.
    const otherCn = `hostile/${randomDeviceId()}`;
    const signedCsr = new x509.Pkcs10CertificateRequest(csrPem);
    const tampered = new Uint8Array(signedCsr.rawData);
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 0x55;
    const csrs: readonly (readonly [string, string])[] = [
      ["garbage", "garbage"],
      ["empty block", "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----"],
      ["garbage block", "-----BEGIN CERTIFICATE REQUEST-----\nAAAAAAAA\n-----END CERTIFICATE REQUEST-----"],
      ["a certificate", device.certPem],
      ["two CSRs", `${csrPem}\n${csrPem}`],
      [
        "oversized",
        `-----BEGIN CERTIFICATE REQUEST-----\n${"A".repeat(20_000)}\n-----END CERTIFICATE REQUEST-----`,
      ],
      ["another device", (await generateKeyAndCsr({ subject: `CN=${otherCn}` })).csrPem],
      ["another realm", (await generateKeyAndCsr({ subject: `CN=elsewhere/${device.deviceId}` })).csrPem],
      ["no CN", (await generateKeyAndCsr({ subject: "O=Devices" })).csrPem],
      ["two CNs", (await generateKeyAndCsr({ subject: `CN=${cn},CN=${otherCn}` })).csrPem],
      ["multi-valued RDN, CN first", (await generateKeyAndCsr({ subject: `CN=${cn}+O=Devices` })).csrPem],
      ["multi-valued RDN, CN last", (await generateKeyAndCsr({ subject: `O=Devices+CN=${cn}` })).csrPem],
      ["bad signature", x509.PemConverter.encode(tampered.buffer, "CERTIFICATE REQUEST")],
      ["RSA-1024", await rsaCsr(cn, 1024)],
      ["P-521", await ecCsr(cn, "P-521")],
      ["trailing garbage", `${csrPem}\nmore`],
      ["private key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"],
    ];
    for (const [name, csr] of csrs) {
      cases.push({
        name: `CSR ${name}`,
        method: "POST",
        path: deviceRoutes[1]?.[1] ?? "",
        headers: [["authorization", `Bearer ${device.secret}`]],
        body: JSON.stringify({ data: { csr } }),
        expect: [422],
      });
    }

    // E. Housekeeping without its credential, and odd queries.
    for (const [method, path] of [
      ["GET", "/housekeeping/v1/realms"],
      ["POST", "/housekeeping/v1/realms"],
      ["GET", "/housekeeping/v1/realms/hostile"],
      ["PATCH", "/housekeeping/v1/realms/hostile"],
      ["DELETE", "/housekeeping/v1/realms/hostile"],
    ] as const) {
      for (const header of [undefined, "Bearer wrong", `Bearer ${agent}`, `Basic ${tether.adminToken}`]) {
        cases.push({
          name: `${method} ${path} with ${header ?? "nothing"}`,
          method,
          path,
          headers: header ? [["authorization", header]] : [],
          body: "{}",
          expect: [403],
        });
      }
    }
    for (const query of [
      "limit=0",
      "limit=-1",
      "limit=1e9",
      "limit=abc",
      "limit=1;drop",
      "from=..%2F..",
      "from=%00",
      `from=${"A".repeat(300)}`,
    ]) {
      cases.push({
        name: `list ?${query}`,
        method: "GET",
        path: `/appengine/v1/hostile/devices?${query}`,
        headers: [["authorization", `Bearer ${app}`]],
        expect: [422],
      });
    }
    for (const path of [
      "/pairing/v1/hostile/devices",
      "/pairing/v2/hostile/agent/devices",
      "/nothing",
      "/pairing/v1/hostile/devices/x/y/z/w",
    ]) {
      cases.push({
        name: `unknown route ${path}`,
        method: "GET",
        path,
        headers: [["authorization", `Bearer ${agent}`]],
        expect: [404],
      });
    }
    // The client normalizes dot segments: this reaches housekeeping, which wants its own credential.
    cases.push({
      name: "dot segments",
      method: "GET",
      path: "/pairing/../housekeeping/v1/realms",
      headers: [["authorization", `Bearer ${agent}`]],
      expect: [403],
    });
  }, 120_000);

  afterAll(async () => tether.close());

  it("answers every case with its documented error, never a 5xx, and changes nothing", async () => {
    expect(cases.length).toBeGreaterThanOrEqual(500);
    const before = await stateDigest(testBed());
    const failures: string[] = [];
    let fiveHundreds = 0;
    for (const c of cases) {
      const headers = new Headers();
      for (const [name, value] of c.headers ?? []) headers.append(name, value);
      if (c.body !== undefined) headers.set("content-type", "application/json");
      const response = await fetch(`${tether.url}${c.path}`, {
        method: c.method,
        headers,
        ...(c.body !== undefined && c.method !== "GET" ? { body: c.body } : {}),
      });
      const text = await response.text();
      if (response.status >= 500) fiveHundreds++;
      if (!c.expect.includes(response.status))
        failures.push(`${c.name}: ${response.status} ${text.slice(0, 120)}`);
      else if (response.status !== 403 || !new URL(response.url).pathname.startsWith("/housekeeping")) {
        // Every error body is Astarte's shape (housekeeping's 403 is API Gateway's IAM answer).
        const body = JSON.parse(text) as { errors?: unknown };
        if (typeof body.errors !== "object" || body.errors === null)
          failures.push(`${c.name}: body ${text.slice(0, 120)}`);
      }
    }
    const after = await stateDigest(testBed());
    console.info(`hostile input: ${cases.length} cases, ${fiveHundreds} 5xx, ${failures.length} unexpected`);
    expect(failures).toEqual([]);
    expect(fiveHundreds).toBe(0);
    expect(after).toBe(before);
  }, 300_000);

  it("never logs a secret, a JWT, a PEM block or a private key", () => {
    const logs = captured.join("");
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    expect(logs).not.toContain("-----BEGIN");
    expect(logs).not.toContain(tether.adminToken);
    console.info(`log scan: ${captured.length} writes, ${logs.length} characters, nothing secret`);
  });
});

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
