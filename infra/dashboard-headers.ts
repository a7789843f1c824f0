/**
 * The dashboard's security headers, one definition for CloudFront (a response headers policy) and for
 * `npm start`'s server. Scripts and styles come only from the dashboard's own files (no inline script or style,
 * no eval); the page talks only to itself and the API; nothing may frame it (it has destructive buttons).
 */
export function dashboardContentSecurityPolicy(apiOrigin: string | undefined): string {
  const connect = apiOrigin ? `'self' ${apiOrigin}` : "'self'";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The headers every dashboard response carries (the CSP above, plus framing, sniffing and referrer rules). */
export function dashboardSecurityHeaders(apiOrigin: string | undefined): Record<string, string> {
  return {
    "content-security-policy": dashboardContentSecurityPolicy(apiOrigin),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
}
