import { describe, expect, it } from "vitest";
import { type WatchedState, watchChanges } from "../../cli/output.ts";

const status = (over: Partial<WatchedState["status"]> = {}): WatchedState["status"] => ({
  id: "AJInS0w3VpWpuOqkXhgZdA",
  credentials_inhibited: false,
  first_registration: "2026-12-03T00:00:00.000Z",
  first_credentials_request: null,
  last_credentials_request_ip: null,
  introspection: {},
  connected: false,
  last_connection: null,
  last_disconnection: null,
  last_seen_ip: null,
  metadata: {},
  certificate: null,
  ...over,
});

describe("tether device watch", () => {
  it("reports the state first, then only what changed, timeline events oldest first", () => {
    const first = watchChanges(undefined, { status: status(), events: [] }, "t0");
    expect(first.map((c) => c.text)).toEqual(["never connected", "credentials enabled", "no certificate"]);
    const before: WatchedState = { status: status(), events: [{ type: "registered", at: "t0" }] };
    expect(watchChanges(before, before, "t1")).toEqual([]);
    const after: WatchedState = {
      status: status({
        connected: true,
        last_connection: "t2",
        metadata: { model: "A300" },
        certificate: { serial: "0a", not_before: "t1", not_after: "t9", state: "current" },
      }),
      events: [
        { type: "issued", at: "t2", serial: "0a" },
        { type: "registered", at: "t0" },
      ],
    };
    expect(watchChanges(before, after, "t3").map((c) => [c.kind, c.text])).toEqual([
      ["presence", "connected since t2"],
      ["certificate", "certificate 0a current until t9"],
      ["metadata", "metadata model=A300"],
      ["event", "issued 0a"],
    ]);
    const revoked: WatchedState = {
      status: status({
        ...after.status,
        credentials_inhibited: true,
        connected: false,
        last_disconnection: "t4",
      }),
      events: after.events,
    };
    expect(watchChanges(after, revoked, "t5").map((c) => c.text)).toEqual([
      "offline since t4",
      "credentials inhibited",
    ]);
  });
});
