import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { pairingDeps } from "../adapters/container.ts";
import { issueCredentials } from "../core/use-cases/issue-credentials.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { metrics } from "../observability.ts";

/** `POST /v1/{realm}/devices/{device_id}/protocols/{protocol}/credentials` → 201 with the leaf certificate. */
export const handler = httpHandler({
  credentials: async (request) => {
    const issued = await issueCredentials(
      pairingDeps(),
      { ...request.principal, protocol: request.param("protocol") },
      request.input,
      request.meta,
    );
    // Superseded certificates that lost their grace to the realm's cap on live certificates.
    if (issued.graceCuts > 0) metrics.addMetric("GraceCut", MetricUnit.Count, issued.graceCuts);
    return {
      response: json(201, {
        data: { client_crt: issued.certificatePem, renew_after: issued.renewAfter.toISOString() },
      }),
      outcome: "CertificateIssued",
    };
  },
});
