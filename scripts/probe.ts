/**
 * A container's health check (Dockerfile HEALTHCHECK, docker-compose): exits 0 when the URL answers 2xx within 3 s.
 * Plain node, no curl in the image: `node dist/scripts/probe.js http://127.0.0.1:4001/readyz`.
 */
const url = process.argv[2] ?? process.env.PROBE_URL ?? 'http://127.0.0.1:4000/healthz';
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
