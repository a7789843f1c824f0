import { baseDeps, certificateAuthority, credentialsHasher } from "../adapters/container.ts";
import { verifyCredentials } from "../core/use-cases/verify-credentials.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { verificationView } from "../http/views.ts";

/** `POST /v1/{realm}/devices/{device_id}/protocols/{protocol}/credentials/verify` → 200, valid or why not. */
export const handler = httpHandler({
  verify: async (request) => {
    const result = await verifyCredentials(
      { ...baseDeps(), hasher: credentialsHasher(), ca: certificateAuthority() },
      { ...request.principal, protocol: request.param("protocol") },
      request.input,
    );
    return {
      response: json(200, { data: verificationView(result) }),
      outcome: result.valid ? "VerifiedValid" : `VerifiedInvalid_${result.cause}`,
    };
  },
});
