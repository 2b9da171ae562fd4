import { describe, expect, it } from 'vitest';
import { responseTime } from './channels';

describe('channel response time', () => {
  it('reads a tested channel by its time', () => {
    expect(responseTime(450, 1700000000)).toEqual({ text: '0.45 s', tone: 'green' });
    expect(responseTime(4000, 1700000000).tone).toBe('red');
  });
  it('tells a failed test (0 ms with a test time, as the server writes it) from a channel never tested', () => {
    expect(responseTime(0, 1700000000).tone).toBe('red');
    expect(responseTime(0, 1700000000).text).not.toBe(responseTime(0, 0).text);
    expect(responseTime(0, 0).tone).toBe('grey');
  });
});
