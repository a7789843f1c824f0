/**
 * A strict reader of DER, the ASN.1 encoding of X.509 structures: enough to take a PKCS#10 request apart
 * without a general-purpose ASN.1 library. Strict means DER, not BER: definite, minimally encoded lengths,
 * low tag numbers only, and every element inside its parent. Anything else throws {@link DerError}.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(`malformed DER: ${message}`);
    this.name = "DerError";
  }
}

export const TAG = {
  integer: 0x02,
  bitString: 0x03,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
  /** `[0]` constructed, context-specific: the attributes of a PKCS#10 request. */
  context0: 0xa0,
} as const;

/** One element: its tag and where it lies in the buffer it was read from. */
export interface Element {
  readonly tag: number;
  /** First byte of the tag. */
  readonly start: number;
  /** First byte of the contents. */
  readonly contentStart: number;
  /** One past the last byte. */
  readonly end: number;
}

/** Lengths beyond this are not something a CSR or certificate Tether reads can hold. */
const MAX_LENGTH_OCTETS = 3;

/** Reads the element at `offset`, which must end at or before `limit`. */
export function readElement(der: Uint8Array, offset: number, limit: number): Element {
  if (offset + 2 > limit) throw new DerError("truncated header");
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag number");
  const first = der[offset + 1] as number;
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0) throw new DerError("indefinite length");
    if (octets > MAX_LENGTH_OCTETS) throw new DerError("length too large");
    if (contentStart + octets > limit) throw new DerError("truncated length");
    if (der[contentStart] === 0) throw new DerError("non-minimal length");
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[contentStart + i] as number);
    if (length < 0x80) throw new DerError("non-minimal length");
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError("truncated contents");
  return { tag, start: offset, contentStart, end };
}

/** The one element that `der` holds, exactly: no bytes before or after it. */
export function readRoot(der: Uint8Array, tag: number): Element {
  const root = readElement(der, 0, der.length);
  if (root.end !== der.length) throw new DerError("trailing bytes");
  return expectTag(root, tag);
}

/** The elements inside a constructed element, in order. */
export function childrenOf(der: Uint8Array, parent: Element): Element[] {
  if (!(parent.tag & 0x20)) throw new DerError("primitive element has no children");
  const children: Element[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readElement(der, at, parent.end);
    children.push(child);
    at = child.end;
  }
  return children;
}

export function expectTag(element: Element | undefined, tag: number): Element {
  if (!element) throw new DerError("missing element");
  if (element.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}`);
  return element;
}

export function contentsOf(der: Uint8Array, element: Element): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + element.contentStart, element.end - element.contentStart);
}

/** The whole element, header included (what a signature covers, or a SubjectPublicKeyInfo to import). */
export function encodingOf(der: Uint8Array, element: Element): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + element.start, element.end - element.start);
}

/** An OBJECT IDENTIFIER in dotted form. */
export function oidOf(der: Uint8Array, element: Element): string {
  const bytes = contentsOf(der, expectTag(element, TAG.oid));
  if (bytes.length === 0) throw new DerError("empty object identifier");
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (value === 0 && byte === 0x80) throw new DerError("non-minimal object identifier");
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("object identifier arc too large");
    if (!(byte & 0x80)) {
      if (arcs.length === 0)
        arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    } else if (i === bytes.length - 1) throw new DerError("truncated object identifier");
  }
  return arcs.join(".");
}

/** A directory string (the value of a name attribute such as CN) as text; `undefined` for other types. */
export function directoryStringOf(der: Uint8Array, element: Element): string | undefined {
  const bytes = contentsOf(der, element);
  switch (element.tag) {
    case TAG.utf8String:
      return bytes.toString("utf8");
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.teletexString:
      return bytes.toString("latin1");
    case TAG.bmpString: {
      if (bytes.length % 2) throw new DerError("odd BMPString");
      return Buffer.from(bytes).swap16().toString("utf16le");
    }
    default:
      return undefined;
  }
}
