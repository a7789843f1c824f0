import { describe, expect, it } from "vitest";
import { registerDeviceRequest } from "../../functions/contracts/pairing.ts";
import { MalformedRequestError, ValidationError } from "../../functions/core/errors.ts";
import { parseEnvelope } from "../../functions/http/validation.ts";

describe("request envelopes", () => {
  it.each([[null], ["text"], [[]], [{}], [{ data: null }], [{ data: [] }], [{ data: "x" }]])(
    "%j is a malformed request",
    (body) => {
      expect(() => parseEnvelope(registerDeviceRequest, body)).toThrow(MalformedRequestError);
    },
  );

  it("reports field errors by their name inside data", () => {
    try {
      parseEnvelope(registerDeviceRequest, {
        data: { initial_introspection: { "a.B": { major: 1.5, minor: 0 } } },
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).fields).toEqual({
        hw_id: ["can't be blank"],
        "initial_introspection.a.B.major": [expect.any(String)],
      });
    }
  });
});
