import { describe, expect, it } from "vitest";
import { printable } from "../../local/printable.ts";

describe("printable (what npm start prints of device-chosen text)", () => {
  it.each([
    ["a forged line", "demo/x: hi\n[tether] admin token: 123", "demo/x: hi\\u000a[tether] admin token: 123"],
    ["a carriage return", "ok\rforged", "ok\\u000dforged"],
    ["terminal escapes", "\u001b[2J\u001b]0;pwned\u0007", "\\u001b[2J\\u001b]0;pwned\\u0007"],
    ["C1 controls and DEL", "a\u009bb\u007fc", "a\\u009bb\\u007fc"],
    ["line separators", "a\u2028b\u2029c", "a\\u2028b\\u2029c"],
    ["ordinary text", 'metadata {"model":"Zähler A300"}', 'metadata {"model":"Zähler A300"}'],
  ])("escapes %s", (_name, text, shown) => {
    expect(printable(text)).toBe(shown);
    expect(
      [...printable(text)].every(
        (c) => c.charCodeAt(0) >= 0x20 && (c.charCodeAt(0) < 0x7f || c.charCodeAt(0) > 0x9f),
      ),
    ).toBe(true);
  });
});
