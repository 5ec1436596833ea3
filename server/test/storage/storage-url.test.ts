import { describe, expect, it } from 'vitest';
import { parseS3StorageUrl, StorageUrlError } from '../../src/storage/storage-url.js';

describe('s3:// storage URLs', () => {
  it('reads the bucket, the prefix and the parameters', () => {
    expect(parseS3StorageUrl('s3://relay-uploads/site-a/relay?endpoint=http://127.0.0.1:9000&region=eu-west-3&forcePathStyle=true')).toEqual({
      bucket: 'relay-uploads',
      prefix: 'site-a/relay/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-3',
      forcePathStyle: true,
    });
  });

  it('defaults: no prefix, AWS for the region, us-east-1, virtual-host style', () => {
    for (const url of ['s3://relay-uploads', 's3://relay-uploads/']) {
      expect(parseS3StorageUrl(url)).toEqual({ bucket: 'relay-uploads', prefix: '', region: 'us-east-1', forcePathStyle: false });
    }
  });

  it('normalises the prefix to end in one slash, and decodes it', () => {
    expect(parseS3StorageUrl('s3://bucket.example/a').prefix).toBe('a/');
    expect(parseS3StorageUrl('s3://bucket.example/a/b/').prefix).toBe('a/b/');
    expect(parseS3StorageUrl('s3://bucket.example/relay%20one/x').prefix).toBe('relay one/x/');
  });

  it('takes an endpoint given percent-encoded, with a path, without its trailing slash', () => {
    expect(parseS3StorageUrl(`s3://b-1?endpoint=${encodeURIComponent('https://s3.example.org/storage/')}`).endpoint).toBe('https://s3.example.org/storage');
    expect(parseS3StorageUrl('s3://b-1?forcePathStyle=false').forcePathStyle).toBe(false);
  });

  const refused: [string, RegExp][] = [
    ['relay-uploads/prefix', /not a URL/],
    ['https://relay-uploads/prefix', /scheme must be s3:/],
    ['s3:///prefix', /names no bucket/],
    ['s3://Relay_Uploads/x', /bucket name "Relay_Uploads" is not valid/],
    ['s3://ab', /bucket name "ab" is not valid/],
    ['s3://a..b', /is not valid/],
    ['s3://192.168.1.10/x', /is not valid/],
    ['s3://bucket:9000/x', /port belongs to the endpoint/],
    ['s3://AKIAEXAMPLE:secret@bucket/x', /credentials do not belong in the URL/],
    ['s3://bucket/x#frag', /fragment/],
    ['s3://bucket/a//b', /empty, '\.' or '\.\.' segment/],
    ['s3://bucket/a/%2E%2E/b', /'\.\.' segment/],
    ['s3://bucket/a/../b', /'\.\.' segment/],
    ['s3://bucket/./b', /'\.\.' segment/],
    ['s3://bucket/a/%ZZ', /percent-encoding/],
    ['s3://bucket/a%0Ab', /control character/],
    [`s3://bucket/${'p'.repeat(600)}`, /longer than 512/],
    ['s3://bucket?endpoint=localhost:9000', /http or https URL/],
    ['s3://bucket?endpoint=not%20a%20url', /is not a URL/],
    ['s3://bucket?endpoint=ftp://host', /http or https URL/],
    [`s3://bucket?endpoint=${encodeURIComponent('http://key:secret@host')}`, /credentials do not belong in the endpoint/],
    [`s3://bucket?endpoint=${encodeURIComponent('http://host/?x=1')}`, /query or a fragment/],
    ['s3://bucket?region=EU%20West', /region "EU West" is not valid/],
    ['s3://bucket?forcePathStyle=yes', /forcePathStyle must be true or false/],
    ['s3://bucket?forcepathstyle=true', /unknown parameter "forcepathstyle"/],
    ['s3://bucket?region=us-east-1&region=eu-west-1', /given twice/],
  ];
  it.each(refused)('refuses %s', (url, reason) => {
    expect(() => parseS3StorageUrl(url)).toThrow(StorageUrlError);
    expect(() => parseS3StorageUrl(url)).toThrow(reason);
  });

  it('never repeats credentials in its error messages', () => {
    for (const url of ['s3://AKIAEXAMPLE:s3cr3t@bucket/x', `s3://bucket?endpoint=${encodeURIComponent('http://AKIAEXAMPLE:s3cr3t@host')}`, 's3://bucket?endpoint=http://AKIAEXAMPLE:s3cr3t@host']) {
      let message = '';
      try {
        parseS3StorageUrl(url);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/credentials do not belong/);
      expect(message).not.toContain('s3cr3t');
      expect(message).not.toContain('AKIAEXAMPLE');
    }
  });
});
