import { baseDeps, credentialsHasher } from "../adapters/container.ts";
import { rotateSecret } from "../core/use-cases/rotate-secret.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** Tether extension: `POST /v1/{realm}/agent/devices/{device_id}/credentials_secret` → 201 with a new secret. */
export const handler = httpHandler(
  {
    rotateSecret: async (request) => {
      const result = await rotateSecret({ ...baseDeps(), hasher: credentialsHasher() }, request.principal);
      return {
        response: json(201, { data: { credentials_secret: result.credentialsSecret } }),
        outcome: "SecretRotated",
      };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
