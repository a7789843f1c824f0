/** Name of the one IoT policy every device certificate gets. */
export const DEVICE_POLICY_NAME = "tether-device";

const CN = "${iot:Certificate.Subject.CommonName}";

/**
 * The IoT policy shared by every device. Certificate policy variables make it per-device: a certificate may
 * connect only with its CN as client id, and only while attached to a thing; it may publish, receive and
 * subscribe only on its CN and below. `arnPrefix` is `arn:<partition>:iot:<region>:<account>`.
 */
export function devicePolicyDocument(arnPrefix: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: "iot:Connect",
        Resource: `${arnPrefix}:client/${CN}`,
        Condition: { Bool: { "iot:Connection.Thing.IsAttached": "true" } },
      },
      {
        Effect: "Allow",
        Action: ["iot:Publish", "iot:Receive"],
        Resource: [`${arnPrefix}:topic/${CN}`, `${arnPrefix}:topic/${CN}/*`],
      },
      {
        Effect: "Allow",
        Action: "iot:Subscribe",
        Resource: [`${arnPrefix}:topicfilter/${CN}`, `${arnPrefix}:topicfilter/${CN}/*`],
      },
    ],
  };
}
