/**
 * The Content-Security-Policy of the app's pages (Electron security checklist item 7). The
 * renderer's index.html carries the same policy in a <meta> tag; main adds it as a response header
 * as well, so it holds even if the page's markup changes. Where both are present the browser
 * enforces both, so they must agree (desktop/src/renderer/index.html): the renderer loads only its
 * own bundled script and stylesheet from app://relaypacs, fetches nothing (the core talks to the
 * relay, in the main process; the page reaches it only through window.api), embeds no frames,
 * objects or workers and submits no forms. frame-ancestors works only as a header, so it is here.
 */
export const CONTENT_SECURITY_POLICY_DIRECTIVES: Readonly<Record<string, string>> = {
  'default-src': "'none'",
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'font-src': "'self'",
  'connect-src': "'none'",
  'object-src': "'none'",
  'frame-src': "'none'",
  'child-src': "'none'",
  'worker-src': "'none'",
  'manifest-src': "'none'",
  'media-src': "'none'",
  'base-uri': "'none'",
  'form-action': "'none'",
  'frame-ancestors': "'none'",
};

export const CONTENT_SECURITY_POLICY = Object.entries(CONTENT_SECURITY_POLICY_DIRECTIVES)
  .map(([directive, value]) => `${directive} ${value}`)
  .join('; ');

/**
 * Adds the policy to a response's headers (as `session.webRequest.onHeadersReceived` hands them
 * over). A policy the response already carries is kept beside it: the browser enforces every
 * policy it receives, so adding one can only narrow what the page may do, never widen it.
 */
export function withContentSecurityPolicy(headers: Record<string, string[]> | undefined): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  const policies: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'content-security-policy') policies.push(...value);
    else result[name] = value;
  }
  if (!policies.includes(CONTENT_SECURITY_POLICY)) policies.push(CONTENT_SECURITY_POLICY);
  result['Content-Security-Policy'] = policies;
  return result;
}
