// A minimal multipart/form-data reader for audio uploads: finds each part's
// name and the byte range of its content, without copying the file. Only
// what the proxy needs (the `file` part and small text fields such as
// `model`); the body is forwarded upstream as it came, so nothing here has to
// re-encode. PURE.

export interface FormPart {
  name: string;
  filename: string | undefined;
  /** Content range inside the body. */
  start: number;
  end: number;
}

export class FormError extends Error {}

/** Parts the reader accepts before calling the body malformed: OpenAI's forms have a handful. */
const MAX_PARTS = 64;

export function formBoundary(contentType: string): string | undefined {
  if (!/^\s*multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

export function formParts(body: Buffer, boundary: string): FormPart[] {
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  let p = body.indexOf(dash);
  if (p !== 0 && !(p > 0 && body.subarray(p - 2, p).toString('latin1') === '\r\n')) throw new FormError('the multipart body does not start with its boundary');
  const parts: FormPart[] = [];
  for (;;) {
    p += dash.length;
    if (body.toString('latin1', p, p + 2) === '--') return parts;
    const headersStart = body.indexOf('\r\n', p);
    if (headersStart < 0) throw new FormError('the multipart body ends inside a boundary line');
    const headersEnd = body.indexOf('\r\n\r\n', headersStart);
    if (headersEnd < 0) throw new FormError('a multipart part has no end of headers');
    const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(body.toString('utf8', headersStart + 2, headersEnd));
    if (!disposition) throw new FormError('a multipart part has no Content-Disposition: form-data header');
    const start = headersEnd + 4;
    const end = body.indexOf(delimiter, start);
    if (end < 0) throw new FormError('the multipart body is truncated: its closing boundary is missing');
    const name = param(disposition[1]!, 'name');
    if (name === undefined) throw new FormError('a multipart part has no name');
    parts.push({ name, filename: param(disposition[1]!, 'filename'), start, end });
    if (parts.length > MAX_PARTS) throw new FormError(`the multipart body has more than ${MAX_PARTS} parts`);
    p = end + 2;
  }
}

function param(header: string, key: string): string | undefined {
  const m = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"|;\\s*${key}=([^;\\s]+)`, 'i').exec(header);
  return m ? (m[1] ?? m[2])!.replace(/\\(.)/g, '$1') : undefined;
}
