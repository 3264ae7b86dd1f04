/**
 * Counts of what is alive per key (sockets per address, requests per viewer): a key is deleted when its count reaches
 * zero, so a map keyed by what clients choose never holds more entries than there are live things.
 */
export function countUp(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

export function countDown(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
