/** 100-ns intervals between the Gregorian epoch of version-1 UUIDs (1582-10-15) and the Unix epoch. */
const GREGORIAN_OFFSET = 122_192_928_000_000_000n;

/** A timeuuid's timestamp, in 100-ns intervals since 1582 (what Cassandra orders timeuuids by first). */
export function ticksOf(id: string): bigint {
  const [low, mid, high] = id.split('-');
  return (BigInt(`0x${high!.slice(1)}`) << 48n) | (BigInt(`0x${mid}`) << 32n) | BigInt(`0x${low}`);
}

/** When a timeuuid was made, in milliseconds since the Unix epoch. */
export const millisOf = (id: string): number => Number((ticksOf(id) - GREGORIAN_OFFSET) / 10_000n);

/** Whether timeuuid `a` was made no later than `b` (two made in the same 100 ns are told apart by their text). */
export function notAfter(a: string, b: string): boolean {
  const [ta, tb] = [ticksOf(a), ticksOf(b)];
  return ta < tb || (ta === tb && a.toLowerCase() <= b.toLowerCase());
}
