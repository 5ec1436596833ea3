// The container's HEALTHCHECK: exit 0 when the relay's /healthz answers 200 within 4 s, else 1.
// Plain Node (the slim image has no curl). With TLS the certificate is usually issued for the public
// name, not 127.0.0.1, so on loopback only the certificate check is skipped: this probes liveness,
// not identity.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const url = new URL(process.env.RELAYPACS_HEALTH_URL ?? `http://127.0.0.1:${process.env.RELAYPACS_PORT ?? '8780'}/healthz`);
const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
const req = request(url, { timeout: 4000, rejectUnauthorized: !loopback }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (error) => {
  console.error(`healthcheck: ${url.href}: ${error.message}`);
  process.exit(1);
});
req.end();
