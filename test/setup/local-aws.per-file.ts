import { afterAll, beforeAll, inject } from "vitest";
import { createAwsClients } from "../../functions/adapters/aws-clients.ts";
import { bootstrapLocal } from "../../local/bootstrap.ts";
import { callsOutsideGrants, observeAwsCalls, observedCallCount } from "../support/iam-observer.ts";
import { setLocalTestBed } from "../support/test-bed.ts";
import { LOCAL_AWS_ENV } from "./local-aws-env.ts";

// Every test file starts from an empty emulator: reset, bootstrap again, and hand the broker the new CA.
beforeAll(async () => {
  const awsEndpoint = inject("awsEndpoint");
  Object.assign(process.env, LOCAL_AWS_ENV(awsEndpoint), {
    // IoT Core's data plane (DeleteConnection) is the broker's, not the emulator's.
    AWS_ENDPOINT_URL_IOT_DATA_PLANE: inject("iotDataEndpoint"),
  });
  if (inject("resetBetweenFiles")) {
    const reset = await fetch(`${awsEndpoint}/moto-api/reset`, { method: "POST" });
    if (!reset.ok) throw new Error(`moto reset answered ${reset.status}`);
  }
  const clients = createAwsClients();
  const env = await bootstrapLocal(clients);
  observeAwsCalls(clients);
  const tls = await fetch(`${inject("brokerAdminUrl")}/tls`, {
    method: "PUT",
    headers: { authorization: `Bearer ${inject("brokerAdminToken")}` },
    body: JSON.stringify({ caPem: env.caCertPem, ...env.broker }),
  });
  if (!tls.ok) throw new Error(`broker refused the new TLS material: ${tls.status}`);
  setLocalTestBed({ env, clients, awsEndpoint, brokerPort: inject("brokerPort") });
});

// Every AWS call a function made in this file must be one its IAM grants allow (test/support/iam-observer.ts).
afterAll(() => {
  const denied = callsOutsideGrants();
  if (denied.length > 0)
    throw new Error(
      `AWS calls outside the calling function's IAM grants (infra/constructs/function-access.ts), of ${observedCallCount()} observed:\n  ${denied.join("\n  ")}`,
    );
});
