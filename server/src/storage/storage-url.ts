/**
 * Where an S3-compatible object store keeps the relay's temporary storage, as a URL:
 *
 *   s3://BUCKET/PREFIX?endpoint=URL&region=R&forcePathStyle=true
 *
 * BUCKET: the bucket (AWS's naming rules: 3-63 characters, lower case letters, digits, '.' and
 * '-'). PREFIX (optional): the folder in the bucket, normalised to '' or to a prefix ending in '/'.
 * endpoint (optional): an http(s) URL for a store other than AWS (MinIO, Ceph RGW, Swift's s3api);
 * without it the SDK finds AWS's endpoint for the region. region: default us-east-1 (SigV4 signs it,
 * so a store that checks it, Swift's s3api among them, needs its own). forcePathStyle: true sends
 * requests as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY (most non-AWS stores need it);
 * default false.
 *
 * Credentials are never part of the URL (it is logged, shown in config dumps and process lists):
 * the SDK's chain finds them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web
 * identity token, the instance's role...). A URL holding any is refused.
 */
export interface S3StorageLocation {
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  /** The store's URL; undefined: AWS's own for the region. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

export class StorageUrlError extends Error {}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const PARAMETERS = new Set(['endpoint', 'region', 'forcePathStyle']);

/** Parses an s3:// storage URL (see S3StorageLocation), or throws StorageUrlError saying what is wrong. */
export function parseS3StorageUrl(text: string): S3StorageLocation {
  const fail = (reason: string): never => {
    throw new StorageUrlError(`invalid storage URL ${JSON.stringify(redact(text))}: ${reason} (expected s3://BUCKET/PREFIX?endpoint=URL&region=R&forcePathStyle=true)`);
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('not a URL');
  }
  if (url.protocol !== 's3:') fail(`the scheme must be s3:, not ${url.protocol}`);
  if (url.username || url.password) fail('credentials do not belong in the URL: give them to the AWS SDK (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role)');
  if (url.port) fail('a port belongs to the endpoint parameter, not to the bucket');
  if (url.hash) fail('a URL fragment (#...) means nothing here');
  const bucket = url.hostname;
  if (!bucket) fail('it names no bucket');
  if (!BUCKET.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    fail(`the bucket name ${JSON.stringify(bucket)} is not valid (3-63 characters: lower case letters, digits, '.' and '-', starting and ending with a letter or digit)`);
  }
  // The URL parser resolves '.' and '..' segments (a/../b is b): refuse them, as they were written.
  const writtenPath = text.replace(/^s3:\/\/[^/?#]*/i, '').split(/[?#]/)[0]!;
  if (writtenPath.split('/').slice(1).some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) fail("the prefix has a '.' or '..' segment");
  const prefix = parsePrefix(url.pathname, fail);

  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (!PARAMETERS.has(name)) fail(`unknown parameter ${JSON.stringify(name)} (known: ${[...PARAMETERS].join(', ')})`);
    if (seen.has(name)) fail(`the parameter ${name} is given twice`);
    seen.add(name);
  }
  const endpointText = url.searchParams.get('endpoint');
  let endpoint: string | undefined;
  if (endpointText !== null) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(endpointText);
    } catch {
      fail(`the endpoint ${JSON.stringify(endpointText)} is not a URL`);
    }
    if (parsed!.protocol !== 'http:' && parsed!.protocol !== 'https:') fail(`the endpoint must be an http or https URL, not ${parsed!.protocol}`);
    if (parsed!.username || parsed!.password) fail('credentials do not belong in the endpoint: give them to the AWS SDK');
    if (parsed!.search || parsed!.hash) fail('the endpoint must not carry a query or a fragment (percent-encode it as one parameter: endpoint=https%3A%2F%2F...)');
    endpoint = endpointText.replace(/\/+$/, '');
  }
  const region = url.searchParams.get('region') ?? 'us-east-1';
  if (!REGION.test(region)) fail(`the region ${JSON.stringify(region)} is not valid (like us-east-1)`);
  const pathStyle = url.searchParams.get('forcePathStyle');
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') fail(`forcePathStyle must be true or false, not ${JSON.stringify(pathStyle)}`);
  return { bucket, prefix, ...(endpoint === undefined ? {} : { endpoint }), region, forcePathStyle: pathStyle === 'true' };
}

/** The path as a key prefix: '' or 'a/b/', each segment a plain name (no '.', '..' or empty segment). */
function parsePrefix(pathname: string, fail: (reason: string) => never): string {
  const path = pathname.replace(/^\//, '').replace(/\/$/, '');
  if (path === '') return '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return fail('the prefix is not valid percent-encoding');
  }
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') fail(`the prefix ${JSON.stringify(decoded)} has an empty, '.' or '..' segment`);
    // Control characters make keys that S3's XML listings cannot carry.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(segment)) fail('the prefix holds a control character');
  }
  if (decoded.length > 512) fail('the prefix is longer than 512 characters (keys are limited to 1024 bytes)');
  return `${decoded}/`;
}

/** The URL without whatever credentials someone put in it, for error messages. */
function redact(text: string): string {
  return text.replace(/(\/\/|%2F%2F)[^/@?#&]*?(@|%40)/gi, '$1***$2');
}
