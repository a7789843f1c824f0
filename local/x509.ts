// The local bootstrap and tests make keys and CSRs exactly as a device running the SDK does.
export { type CsrOptions, generateKeyAndCsr, type KeyAndCsr } from "../sdk/csr.ts";
