import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: the machine itself (the local workflow, benchmarks). */
export function isLoopback(address: string | null): boolean {
  if (!address || !isIP(address)) return false;
  const unmapped = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return unmapped === '::1' || unmapped.startsWith('127.');
}
