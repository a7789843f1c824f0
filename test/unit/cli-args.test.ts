import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../cli/main.ts";

describe("tether CLI arguments", () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(["-REREREREREREREREREREQ", "--8REREREREREREREREREQ", "--_fpk-FSbmNKHY3kpE2Qw"])(
    "takes a device id starting with dashes (%s) as the id, not as options",
    async (deviceId) => {
      const errors: string[] = [];
      vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
        errors.push(args.join(" "));
      });
      vi.spyOn(console, "log").mockImplementation(() => {});
      // Nothing listens on port 9: the command gets past argument parsing and fails on the network or config.
      const code = await main([
        "device",
        "show",
        deviceId,
        "--appengine-url",
        "http://127.0.0.1:9/appengine",
        "--realm",
        "demo",
      ]);
      expect(errors.join("\n")).not.toMatch(/Unknown option|Usage:/);
      expect(code).not.toBe(1);
    },
  );
});
