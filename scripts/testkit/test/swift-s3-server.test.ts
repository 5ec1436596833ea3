import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import {
  DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveProcessGroupMembers, SwiftS3Server } from '../src/index.js';

let swift: SwiftS3Server;
let s3: S3Client;

beforeAll(async () => {
  swift = await SwiftS3Server.start();
  s3 = await swift.client();
});

afterAll(async () => {
  s3?.destroy();
  await swift?.stop();
});

async function bodyOf(key: string, range?: string): Promise<{ bytes: Buffer; contentRange: string | undefined }> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: 'relaypacs-studies', Key: key, Range: range }));
  return { bytes: Buffer.from(await answer.Body!.transformToByteArray()), contentRange: answer.ContentRange };
}

describe('Swift s3api harness', () => {
  // Random bytes over a megabyte: every byte value, and more than one read buffer.
  const payload = randomBytes(1_500_000);

  it('stores an object and gives it back byte for byte, whole and by range', async () => {
    expect(swift.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(swift.region).toBe('us-east-1');
    await swift.createBucket('relaypacs-studies');
    await s3.send(new PutObjectCommand({ Bucket: 'relaypacs-studies', Key: 'study/1.2.3/instance.dcm', Body: payload }));

    expect((await bodyOf('study/1.2.3/instance.dcm')).bytes.equals(payload)).toBe(true);
    const ranged = await bodyOf('study/1.2.3/instance.dcm', 'bytes=1000-1999');
    expect(ranged.contentRange).toBe(`bytes 1000-1999/${payload.length}`);
    expect(ranged.bytes.equals(payload.subarray(1000, 2000))).toBe(true);
  });

  it('lists and deletes', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'relaypacs-studies', Key: 'study/1.2.3/other.dcm', Body: 'x' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'relaypacs-studies', Prefix: 'study/' }));
    expect(listed.Contents?.map((item) => [item.Key, item.Size])).toEqual([
      ['study/1.2.3/instance.dcm', payload.length],
      ['study/1.2.3/other.dcm', 1],
    ]);

    await s3.send(new DeleteObjectCommand({ Bucket: 'relaypacs-studies', Key: 'study/1.2.3/instance.dcm' }));
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'relaypacs-studies' }));
    expect(after.Contents?.map((item) => item.Key)).toEqual(['study/1.2.3/other.dcm']);
    const missing = await s3.send(new GetObjectCommand({ Bucket: 'relaypacs-studies', Key: 'study/1.2.3/instance.dcm' })).catch((error: S3ServiceException) => error);
    expect(missing).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
  });

  it('refuses a wrong secret, and a signature scoped to another region', async () => {
    const impostor = new S3Client({ ...swift.clientConfig, credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: 'wrong' }, maxAttempts: 1 });
    // SigV4 signs the region: s3api takes only its configured location.
    const elsewhere = new S3Client({ ...swift.clientConfig, region: 'eu-west-1', maxAttempts: 1 });
    try {
      await expect(impostor.send(new ListObjectsV2Command({ Bucket: 'relaypacs-studies' }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
      await expect(elsewhere.send(new ListObjectsV2Command({ Bucket: 'relaypacs-studies' }))).rejects.toMatchObject({ name: 'AuthorizationHeaderMalformed' });
    } finally {
      impostor.destroy();
      elsewhere.destroy();
    }
  });

  it('refuses a bucket name AWS would refuse', async () => {
    await expect(swift.createBucket('ab')).rejects.toMatchObject({ name: 'InvalidBucketName' });
  });
});

describe('Swift lifecycle', () => {
  it('stops every server and leaves no process or file', async () => {
    const other = await SwiftS3Server.start();
    const pids = other.pids;
    expect(pids).toHaveLength(4);
    await other.stop();
    for (const pid of pids) expect(await liveProcessGroupMembers(pid)).toEqual([]);
    await expect(stat(other.workDir)).rejects.toThrow(/ENOENT/);
  });
});
