import { describe, expect, it } from 'vitest';

import { isLoopback } from '../../platform/identity/addresses.js';

describe('loopback addresses (exempt from per-address limits in development)', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('%s is the machine itself', (address) => {
    expect(isLoopback(address)).toBe(true);
  });

  it.each(['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '127.0.0.1.example.com', 'localhost', '', null])(
    '%s is not',
    (address) => {
      expect(isLoopback(address)).toBe(false);
    },
  );
});
