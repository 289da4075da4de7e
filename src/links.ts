/**
 * Which links the sidebar follows. A dashboard link comes from the server,
 * which repeats what a scheduler or a service said (Saturn, a gateway, an
 * adopted scheduler): only web addresses become links, anything else is
 * shown as text.
 */

/** Whether a URL names its own scheme, as the browser reads it. */
function hasScheme(url: string): boolean {
  // The URL parser drops leading spaces and controls, and tabs and newlines
  // anywhere: "java\tscript:" is "javascript:".
  // eslint-disable-next-line no-control-regex
  const parsed = url.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '');
  return /^[a-z][a-z0-9+.-]*:/i.test(parsed);
}

/**
 * `url` if the browser may follow it: an absolute `http:`/`https:` URL, or
 * a relative one that stays on this page's origin (not `//host`, `/\host`).
 * Null for anything else: `javascript:`, `data:`, `vbscript:`, `blob:`,
 * unparsable input. An absolute URL comes back as the browser reads it.
 */
export function safeLink(
  url: string | null | undefined,
  base: string = window.location.href
): string | null {
  if (typeof url !== 'string' || url === '') {
    return null;
  }
  let resolved: URL;
  let origin: string;
  try {
    resolved = new URL(url, base);
    origin = new URL(base).origin;
  } catch {
    return null;
  }
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') {
    return null;
  }
  if (hasScheme(url)) {
    return resolved.href;
  }
  return resolved.origin === origin ? url : null;
}
