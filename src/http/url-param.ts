/** A percent-decoded URL path parameter, or null when its encoding is malformed (decodeURIComponent would throw). */
export function decodeParam(raw: string | undefined): string | null {
  try {
    return decodeURIComponent(raw ?? '');
  } catch {
    return null;
  }
}
