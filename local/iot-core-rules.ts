/**
 * IoT Core's message-broker rules that the local data plane mirrors, as plain functions. Each names its
 * AWS source; README's "What the local broker mirrors" lists them with what a client sees when it breaks one.
 *
 * Sources:
 * - [quotas] "AWS IoT Core endpoints and quotas", message broker and protocol limits
 *   (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits), and the same limits
 *   as the AWS IoT Device SDK v2 enforces them client-side (`ClientExtendedValidationAndFlowControl.
 *   AwsIotCoreDefaults`: at most 8 subscriptions per SUBSCRIBE, 7 slashes, 256-byte topics, 128-byte client ids).
 * - [differences] "AWS IoT differences from MQTT specifications"
 *   (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences).
 */

/** [quotas] "Client ID size": 128 bytes of UTF-8. */
export const MAX_CLIENT_ID_BYTES = 128;
/** [quotas] "Topic size": 256 bytes of UTF-8, for topics in PUBLISH and filters in SUBSCRIBE. */
export const MAX_TOPIC_BYTES = 256;
/** [quotas] "Maximum number of slashes in topic and topic filter": 7 (the `$aws/rules/<rule>/` prefix aside). */
export const MAX_TOPIC_SLASHES = 7;
/** [quotas] "Message size": the payload of a PUBLISH is limited to 128 KB. */
export const MAX_PAYLOAD_BYTES = 128 * 1024;
/** [quotas] "Maximum subscriptions per subscribe call": 8. */
export const MAX_SUBSCRIPTIONS_PER_SUBSCRIBE = 8;
/** [quotas] "Connect requests per second per client ID": 1. */
export const CONNECT_INTERVAL_PER_CLIENT_ID_MS = 1_000;
/**
 * [quotas] "Keep-alive": the broker accepts 30–1200 s; a client asking for less (but not 0) is treated as
 * asking for 30 s; 0 or more than 1200 s gets the default, 1200 s. A client is disconnected when nothing
 * arrives for 1.5 times its keep-alive.
 */
export const MIN_KEEP_ALIVE_SECONDS = 30;
export const MAX_KEEP_ALIVE_SECONDS = 1_200;

/** The keep-alive IoT Core applies to a client that asked for `requested` seconds. */
export function effectiveKeepAlive(requested: number): number {
  if (requested === 0 || requested > MAX_KEEP_ALIVE_SECONDS) return MAX_KEEP_ALIVE_SECONDS;
  return Math.max(requested, MIN_KEEP_ALIVE_SECONDS);
}

/** How long a client may stay silent before the broker drops it (1.5 × its effective keep-alive). */
export function inactivityLimitMs(requestedKeepAlive: number): number {
  return effectiveKeepAlive(requestedKeepAlive) * 1_500;
}

/** Why a client id is refused before any policy is evaluated, or undefined when it is acceptable. */
export function clientIdProblem(clientId: string): string | undefined {
  // An empty client id cannot match a policy's `client/<id>` resource; IoT Core documents no assigned ids.
  if (clientId.length === 0) return "empty client id";
  if (Buffer.byteLength(clientId, "utf8") > MAX_CLIENT_ID_BYTES) {
    return `client id longer than ${MAX_CLIENT_ID_BYTES} bytes`;
  }
  return undefined;
}

const RULES_PREFIX = /^\$aws\/rules\/[^/]+\//;

function slashes(topic: string): number {
  const counted = topic.replace(RULES_PREFIX, "");
  let count = 0;
  for (const ch of counted) if (ch === "/") count += 1;
  return count;
}

/** Why a PUBLISH topic name is invalid on IoT Core, or undefined. */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return "empty topic";
  if (topic.includes("+") || topic.includes("#")) return "wildcard in a topic name";
  return sizeProblem(topic);
}

/** Why a SUBSCRIBE topic filter is invalid on IoT Core, or undefined. `$share/<group>/` is not counted. */
export function topicFilterProblem(filter: string): string | undefined {
  const unshared = sharedFilterTarget(filter);
  if (unshared === undefined) return "malformed shared subscription";
  if (unshared.length === 0) return "empty topic filter";
  const levels = unshared.split("/");
  for (const [index, level] of levels.entries()) {
    if (level.includes("#") && (level !== "#" || index !== levels.length - 1)) return "misplaced #";
    if (level.includes("+") && level !== "+") return "misplaced +";
  }
  return sizeProblem(filter);
}

function sizeProblem(topic: string): string | undefined {
  if (Buffer.byteLength(topic, "utf8") > MAX_TOPIC_BYTES) return `longer than ${MAX_TOPIC_BYTES} bytes`;
  if (slashes(topic) > MAX_TOPIC_SLASHES) return `more than ${MAX_TOPIC_SLASHES} slashes`;
  return undefined;
}

/** The filter a shared subscription (`$share/<group>/<filter>`) applies, the filter itself otherwise. */
export function sharedFilterTarget(filter: string): string | undefined {
  if (!filter.startsWith("$share/")) return filter;
  const match = /^\$share\/([^/+#]+)\/(.+)$/.exec(filter);
  return match?.[2];
}

/**
 * Whether a topic filter matches a topic name as IoT Core matches it: like MQTT, except that `a/#` does not
 * match `a` itself ([differences]: "a subscription to `sensor/#` … not messages published to `sensor`").
 */
export function iotFilterMatches(filter: string, topic: string): boolean {
  const target = sharedFilterTarget(filter) ?? filter;
  const f = target.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return t.length > i;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
