import { inject } from "vitest";

export interface PublishedMessage {
  readonly clientId: string;
  readonly topic: string;
  readonly payload: string;
}

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(`${inject("brokerAdminUrl")}${path}`, {
    method,
    headers: { authorization: `Bearer ${inject("brokerAdminToken")}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`broker admin ${method} ${path} answered ${response.status}`);
  return response;
}

/** Publishes as the service would (iot-data Publish on AWS). */
export async function servicePublish(topic: string, payload: string): Promise<void> {
  await admin("POST", "/publish", { topic, payload });
}

/** Waits until a device has published a message matching `predicate`. */
export async function waitForPublished(
  predicate: (message: PublishedMessage) => boolean,
  timeoutMs = 5_000,
): Promise<PublishedMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = (await (await admin("GET", "/published")).json()) as PublishedMessage[];
    const found = messages.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching message published within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
