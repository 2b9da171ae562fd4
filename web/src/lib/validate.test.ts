import { describe, expect, it } from 'vitest';
import { checkModelMapping, checkRatioJson, checkSubnets, checkTierJson, splitList } from './validate';

describe('JSON editors', () => {
  it('accepts a ratio object of numbers (negative ones too, as the defaults have)', () => {
    expect(checkRatioJson('{"gpt-4": 15, "openrouter/auto": -1}').ok).toBe(true);
  });
  it('refuses ratio JSON that is not an object of numbers', () => {
    expect(checkRatioJson('{"gpt-4": "15"}').ok).toBe(false);
    expect(checkRatioJson('[1]').ok).toBe(false);
    expect(checkRatioJson('{oops').ok).toBe(false);
  });
  it('checks a model mapping: empty, or names to names', () => {
    expect(checkModelMapping('').ok).toBe(true);
    expect(checkModelMapping('{"a": "b"}').ok).toBe(true);
    expect(checkModelMapping('{"a": 1}').ok).toBe(false);
    expect(checkModelMapping(`{"a": "${'x'.repeat(1100)}"}`).ok).toBe(false);
  });
});

describe('subnets', () => {
  it('accepts comma-separated CIDRs', () => {
    expect(checkSubnets('')).toBeNull();
    expect(checkSubnets('192.168.0.0/24, 10.0.0.1/32,::1/128')).toBeNull();
  });
  it('refuses addresses without a prefix or out of range', () => {
    expect(checkSubnets('10.0.0.1')).toMatch(/invalid/);
    expect(checkSubnets('300.0.0.0/8')).toMatch(/invalid/);
    expect(checkSubnets('10.0.0.0/33')).toMatch(/invalid/);
  });
});

it('splits lists on commas and newlines without blanks or duplicates', () => {
  expect(splitList('a, b\nc,,a\n')).toEqual(['a', 'b', 'c']);
});

describe('long-context tiers', () => {
  it('accepts a model name to a list of {above, input, output}', () => {
    expect(checkTierJson('{"gpt-5.4":[{"above":272000,"input":2,"output":1.5}]}').ok).toBe(true);
  });
  it('refuses what the server refuses', () => {
    expect(checkTierJson('{"m":{"above":1}}')).toMatchObject({ ok: false, error: '"m" must be a non-empty list of tiers' });
    expect(checkTierJson('{"m":[{"above":5,"input":2}]}').ok).toBe(false);
    expect(checkTierJson('{"m":[{"above":-1,"input":2,"output":2}]}').ok).toBe(false);
    expect(checkTierJson('{"m":[{"above":1,"input":"2","output":2}]}').ok).toBe(false);
  });
});
